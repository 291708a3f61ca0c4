// Registers the portal's service worker so members can install it on their phone (PWA).
(function () {
  "use strict";
  var script = document.currentScript;
  if (!("serviceWorker" in navigator) || !script) return;
  navigator.serviceWorker.register(script.dataset.sw, { scope: script.dataset.scope })
    .catch(function () { /* the portal works without it */ });
})();
