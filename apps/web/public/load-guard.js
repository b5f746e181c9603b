// The app arrives as many module requests. When one of them fails, the app never starts and the
// page stays blank: Chromium aborts every request in flight on a network change
// (net::ERR_NETWORK_CHANGED: a VPN or Wi-Fi switch, or interfaces coming and going on its machine).
// Load the page again instead, at most once every 10 s (a server that is really down is not
// hammered). A classic script of our own origin: the content security policy allows no inline script.
(function () {
  var KEY = 'ctp-load-guard';
  function reloadOnce() {
    try {
      if (Date.now() - Number(sessionStorage.getItem(KEY) || 0) < 10000) return false;
      sessionStorage.setItem(KEY, String(Date.now()));
    } catch {
      return false;
    }
    location.reload();
    return true;
  }
  // A module script whose graph failed to load fires `error` on its element (it does not bubble: captured).
  window.addEventListener(
    'error',
    function (event) {
      var target = event.target;
      if (target && target.tagName === 'SCRIPT' && target.type === 'module') reloadOnce();
    },
    true,
  );
  // A page's code loaded later (a lazy route) that failed to load (Vite's event).
  window.addEventListener('vite:preloadError', function (event) {
    if (reloadOnce()) event.preventDefault();
  });
})();
