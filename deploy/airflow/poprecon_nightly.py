"""The nightly run as an Airflow DAG: one BashOperator task.

Exit codes of `poprecon run`: 0 success, 1 failure (the previous run stays `latest`),
2 usage error, 3 completed with an alert (the new run is `latest`). Airflow fails a task on
any non-zero code, and a failed task is retried: a retry after exit 3 would run the night
again. The command therefore maps 3 to success after printing the alert, which stays in
the task log (and in the last line of stdout, pushed to XCom for a downstream check).
"""

from datetime import datetime

from airflow import DAG

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator

POPRECON = "/usr/local/bin/poprecon"
PIPELINE = "/srv/poprecon/pipelines/county.toml"
ROOT = "/srv/poprecon/out"

with DAG(
    dag_id="poprecon_nightly",
    schedule="15 2 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    # poprecon refuses a second run on one root anyway (`ROOT/.poprecon.lock`).
    max_active_runs=1,
    tags=["poprecon"],
) as dag:
    BashOperator(
        task_id="poprecon_run",
        # `ts_nodash` (20260131T021500) names the run after the DAG run, and sorts by time
        # as `--keep` needs.
        bash_command=(
            f"{POPRECON} --log-format json run {PIPELINE} --out {ROOT} --keep 30"
            " --run-id {{ ts_nodash }}; rc=$?;"
            ' if [ "$rc" -eq 3 ]; then echo "poprecon: completed, alerts fired"; exit 0; fi;'
            ' exit "$rc"'
        ),
        retries=1,
    )
