// Runs each page's inline scripts in a stub DOM (node vm, no network) and reports navigations, writes and
// document.title changes. Used by `generate.py --scripts` to prove injected redirects really fire.
const vm = require('vm');
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = {};
for (const [name, scripts] of Object.entries(input)) {
  const log = [];
  const loc = { pathname: '/x', host: 'h', set href(v) { log.push('nav:' + v); }, get href() { return 'https://h/x'; },
                replace(v) { log.push('nav:' + v); }, toString() { return 'https://h/x'; } };
  const doc = { referrer: 'https://www.google.com/url?q=www.baidu.com/s_sogou.com/so.com', title: 'T',
                write(s) { log.push('write:' + s); }, writeln(s) { log.push('write:' + s); },
                getElementById() { return { style: {} }; }, createElement() { return {}; },
                getElementsByTagName() { return [{ parentNode: { insertBefore() {} } }]; } };
  Object.defineProperty(doc, 'location', { set(v) { log.push('nav:' + v); }, get() { return loc; } });
  const win = { open(u) { log.push('nav:' + u); } };
  const ctx = { dataLayer: [], document: doc, navigator: { userAgent: 'Mozilla/5.0 (iPhone; Mobile) Safari', language: 'en-US' },
                window: win, setTimeout: (f) => f(), localStorage: { getItem() { return null; }, setItem() {} },
                sessionStorage: { getItem() { return null; } }, Image: function () {}, encodeURIComponent, decodeURIComponent,
                escape, unescape, atob: (b) => Buffer.from(b, 'base64').toString('latin1') };
  Object.defineProperty(ctx, 'location', { set(v) { log.push('nav:' + v); }, get() { return loc; } });
  const topObj = {}; Object.defineProperty(topObj, 'location', { set(v) { log.push('nav:' + v); }, get() { return { set href(v) { log.push('nav:' + v); } }; } });
  ctx.top = topObj; win.top = topObj; win.location = loc;
  Object.defineProperty(win, 'location', { set(v) { log.push('nav:' + v); }, get() { return loc; } });
  vm.createContext(ctx);
  for (const s of scripts) {
    try { vm.runInContext(s, ctx, { timeout: 1000 }); } catch (e) { log.push('err:' + e.message.slice(0, 80)); }
  }
  if (ctx.document.title !== 'T') log.push('title:' + ctx.document.title);
  out[name] = log;
}
console.log(JSON.stringify(out));
