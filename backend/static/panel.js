// The panel's script: the sidebar's menu button at phone width, and a Jalali calendar
// for date fields when the page is Persian (jalalidatepicker.js; panel-datepicker.js keeps
// it beside its field). Typing a date by hand (Persian, Arabic-Indic or Latin digits)
// always works as well.
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
  if (document.documentElement.lang !== "fa" || !window.jalaliDatepicker) return;
  window.jalaliDatepicker.startWatch({
    selector: "input[data-jalali]",
    autoReadOnlyInput: false,
    persianDigits: true,
    showTodayBtn: true,
    showEmptyBtn: true,
  });
})();
