const { chromium } = require('playwright-core');
(async () => {
  const url = process.argv[2];
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  const t0 = Date.now();
  await page.goto(url);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 120000 });
  const load = Date.now() - t0;
  const nav = await page.evaluate(() => Number(document.body.getAttribute('data-load-ms')));
  // Filter: choose a rule in the select, time until the count changes.
  const rule = await page.$eval('#filter-rule option:nth-child(2)', (o) => o.value);
  const f0 = Date.now();
  await page.selectOption('#filter-rule', rule);
  const fms = await page.$eval('#filter-count', (e) => e.getAttribute('data-ms'));
  const filterWall = Date.now() - f0;
  const countText = await page.$eval('#filter-count', (e) => e.textContent);
  // Text filter.
  const q0 = Date.now();
  await page.fill('#filter-text', '3403');
  await page.waitForTimeout(400);
  const qms = await page.$eval('#filter-count', (e) => e.getAttribute('data-ms'));
  // Drill-through: click the first coloured cell.
  const d0 = Date.now();
  await page.click('#overview-rows td.cell[data-cell]');
  await page.waitForSelector('#drill-count');
  const drill = Date.now() - d0;
  const drillText = await page.$eval('#drill-count', (e) => e.textContent);
  // Open the first mismatch row.
  const o0 = Date.now();
  await page.click('#mismatch-rows tr.clickable');
  await page.waitForSelector('tr.detail');
  const open = Date.now() - o0;
  const mem = await page.evaluate(() => performance.memory ? performance.memory.usedJSHeapSize : null);
  console.log(JSON.stringify({ load_ms: load, in_page_ready_ms: nav, filter_rule_ms: Number(fms), filter_wall_ms: filterWall, countText, text_filter_ms: Number(qms), drill_ms: drill, drillText, open_detail_ms: open, js_heap_mb: mem && Math.round(mem / 1e6), errors }));
  await browser.close();
})();
