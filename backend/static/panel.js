// The panel's only script: a Jalali calendar for date fields when the page is Persian.
// Typing a date by hand (Persian, Arabic-Indic or Latin digits) always works as well.
(function () {
  "use strict";
  if (document.documentElement.lang !== "fa" || !window.jalaliDatepicker) return;
  window.jalaliDatepicker.startWatch({
    selector: "input[data-jalali]",
    autoReadOnlyInput: false,
    persianDigits: true,
    showTodayBtn: true,
    showEmptyBtn: true,
  });
})();
