// Back after in-app navigation (loaded once per browser tab by app.py).
//
// When a page is opened from Python (st.switch_page with query parameters, a table cell),
// Streamlit 1.67's frontend first pushes the new page's query string onto the *old* page's
// path, then pushes the new page: a phantom history entry (the old page with the new page's
// parameters) that Back lands on. Here, such a push followed at once by the page change becomes
// one entry. Nothing else changes: a push of the same path with other parameters (a filter
// changed) stays a push, and a release that fixes this never meets the condition.
(() => {
  if (window.__dashcamHistory) return;
  window.__dashcamHistory = true;
  const push = history.pushState.bind(history);
  const replace = history.replaceState.bind(history);
  let pending = null; // the last same-path push: {path, search, at}
  history.pushState = (state, title, url) => {
    const next = new URL(url ?? location.href, location.href);
    const phantom = pending && Date.now() - pending.at < 3000 && pending.path === location.pathname
      && pending.search === next.search && next.pathname !== location.pathname;
    pending = next.pathname === location.pathname
      ? { path: next.pathname, search: next.search, at: Date.now() } : null;
    return phantom ? replace(state, title, url) : push(state, title, url);
  };
})();
