// The panel's script: the sidebar's menu button at phone width. (Date fields get their
// Jalali calendar from jalali-calendar.js.)
(function () {
  "use strict";
  var nav = document.getElementById("sidebar");
  var toggle = document.getElementById("nav-toggle");
  if (nav && toggle) {
    var phone = window.matchMedia("(max-width: 50rem)");
    var setOpen = function (open) {
      nav.classList.toggle("collapsed", !open);
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    };
    setOpen(!phone.matches);
    phone.addEventListener("change", function () { setOpen(!phone.matches); });
    toggle.addEventListener("click", function () {
      setOpen(nav.classList.contains("collapsed"));
    });
  }
})();
