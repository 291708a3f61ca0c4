// A Jalali calendar for date fields (input[data-jalali]) when the page is Persian, in the
// panel and the portal: the vendored jalalidatepicker, kept beside its field. Typing a
// date by hand (Persian, Arabic-Indic or Latin digits) always works as well.
(function () {
  "use strict";
  var picker = window.jalaliDatepicker;
  if (document.documentElement.lang !== "fa" || !picker) return;
  var SELECTOR = "input[data-jalali]";
  var GAP = 4;   // px between the field and the calendar
  var EDGE = 4;  // px kept free at the viewport's edges
  picker.startWatch({
    selector: SELECTOR,
    autoReadOnlyInput: false,
    persianDigits: true,
    showTodayBtn: true,
    showEmptyBtn: true,
    topSpace: GAP,
    bottomSpace: GAP,
  });

  // The vendor reads the field with /\d/, Latin digits only: a date typed in Persian or
  // Arabic-Indic digits would open an empty calendar. Before it reads the field (this
  // listener runs first, in the capture phase), its digits become Latin; the server
  // takes either.
  var DIGITS = /[\u06F0-\u06F9\u0660-\u0669]/g;
  var ANY_DIGIT = /[\u06F0-\u06F9\u0660-\u0669]/;  // no /g: test() keeps no state
  window.addEventListener("focusin", function (event) {
    var target = event.target;
    if (target.matches && target.matches(SELECTOR) && ANY_DIGIT.test(target.value)) {
      target.value = target.value.replace(DIGITS, function (digit) {
        var code = digit.charCodeAt(0);
        return String(code >= 0x06F0 ? code - 0x06F0 : code - 0x0660);
      });
    }
  }, true);

  var field = null;     // the date field whose calendar is open
  var scrolled = false; // the page was scrolled once for this opening

  function box() {
    var container = document.querySelector("jdp-container");
    return container && container.style.display !== "none" &&
      container.style.visibility !== "hidden" ? container : null;
  }

  function pin(container, name, value) {
    // The vendor sheet has !important rules at phone width; an inline !important wins.
    container.style.setProperty(name, value, "important");
  }

  // Beside its field, never over it: below when the calendar fits there, else above,
  // else the page scrolls (once) so it fits below; across, aligned with the field's
  // start edge and kept inside the viewport.
  function place() {
    var container = box();
    if (!container || !field) return;
    var viewportWidth = document.documentElement.clientWidth;
    var viewportHeight = window.innerHeight;
    var height = container.offsetHeight;
    var width = container.offsetWidth;
    var rect = field.getBoundingClientRect();
    var top;
    if (rect.bottom + GAP + height <= viewportHeight - EDGE) {
      top = rect.bottom + GAP;
    } else if (rect.top - GAP - height >= EDGE) {
      top = rect.top - GAP - height;
    } else {
      if (!scrolled) {
        scrolled = true;
        var before = window.scrollY;
        window.scrollBy(0, rect.bottom + GAP + height - (viewportHeight - EDGE));
        if (window.scrollY !== before) rect = field.getBoundingClientRect();
      }
      top = rect.bottom + GAP;
    }
    var rtl = getComputedStyle(field).direction === "rtl" ||
      document.documentElement.dir === "rtl";
    var left = rtl ? rect.right - width : rect.left;
    left = Math.max(EDGE, Math.min(left, viewportWidth - width - EDGE));
    pin(container, "position", "fixed");
    pin(container, "top", top + "px");
    pin(container, "left", left + "px");
    pin(container, "bottom", "auto");
    pin(container, "transform", "none");
  }

  function later() {
    window.requestAnimationFrame(place);
  }

  // The vendor shows the calendar again 300 ms after it opened (the end of its opening
  // animation), even when it was closed meanwhile: closed that early, it is closed again
  // once that has passed; then "jalali-calendar-closed" is sent on the document.
  var VENDOR_OPENING_MS = 300;
  var openedAt = 0;

  function close(keepFocus) {
    picker.hide();
    if (keepFocus && field) field.focus({ preventScroll: true });
    field = null;
    var wait = openedAt + VENDOR_OPENING_MS + 50 - Date.now();
    window.setTimeout(function () {
      if (!field) picker.hide();
      document.dispatchEvent(new CustomEvent("jalali-calendar-closed"));
    }, Math.max(wait, 0));
  }

  function opened(target) {
    field = target;
    scrolled = false;
    cursor = -1;
    openedAt = Date.now();
    guard();
    later();
  }

  // The vendor's opening timer can still fire after close() when a frame is slow (a
  // loaded phone): whatever shows the calendar while no field is open is hidden again
  // before it is painted (mutation callbacks run before the next frame).
  var observer = null;
  function guard() {
    var container = document.querySelector("jdp-container");
    if (observer || !container || !window.MutationObserver) return;
    observer = new MutationObserver(function () {
      if (!field && box()) picker.hide();
    });
    observer.observe(container, { attributes: true, attributeFilter: ["style"] });
  }

  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches(SELECTOR)) {
      opened(event.target);
    } else if (field && !(box() && box().contains(event.target))) {
      close(false);  // Tab to the next field: the calendar goes with the focus
    }
  });
  // A click on the field that kept the focus (after Escape) opens it again: no focusin
  // comes, and the vendor opens it on focus only.
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!field && target.matches && target.matches(SELECTOR) && document.activeElement === target) {
      opened(target);
      picker.show(target);
    }
  });
  // The keyboard, with the focus kept in the field: ↓/↑ move a cursor a week on (it
  // starts on the chosen day, else today), then ←/→ a day (right to left: ← is the next
  // day), PageDown/PageUp a month; Enter takes the cursor's day. Without the cursor the
  // arrows move the text caret as usual.
  var cursor = -1;  // index among the calendar's day cells, -1: none

  function days() {
    var container = box();
    return container ? Array.prototype.slice.call(container.querySelectorAll(".jdp-day")) : [];
  }

  function showCursor(cells) {
    cells.forEach(function (cell, index) {
      cell.classList.toggle("kbd-cursor", index === cursor);
    });
  }

  function startCursor(cells) {
    var start = cells.findIndex(function (cell) { return cell.classList.contains("selected"); });
    if (start < 0) {
      start = cells.findIndex(function (cell) { return cell.classList.contains("today"); });
    }
    if (start < 0) {
      start = cells.findIndex(function (cell) { return !cell.classList.contains("not-in-month"); });
    }
    return Math.max(start, 0);
  }

  function moveMonth(forward) {
    var container = box();
    var button = container && container.querySelector(
      ".jdp-months " + (forward ? ".jdp-icon-plus" : ".jdp-icon-minus"));
    if (!button) return;
    var before = days()[cursor];
    var day = before && !before.classList.contains("not-in-month") ? before.textContent : "";
    button.click();
    // The same day of the new month (its last day when it is shorter).
    var cells = days();
    var inMonth = cells.filter(function (cell) {
      return !cell.classList.contains("not-in-month");
    });
    var same = inMonth.filter(function (cell) { return cell.textContent === day; })[0];
    var target = same || (day ? inMonth[inMonth.length - 1] : inMonth[0]);
    cursor = target ? cells.indexOf(target) : startCursor(cells);
    showCursor(cells);
  }

  // Escape closes at once (the vendor ignores it while its opening animation runs, and
  // blurs the field): the focus stays in the field, where typing goes on.
  window.addEventListener("keydown", function (event) {
    if (!field || !box() || event.target !== field) return;
    if (event.key === "Escape") {
      event.stopPropagation();
      event.preventDefault();
      cursor = -1;
      close(true);
      return;
    }
    var cells = days();
    if (!cells.length) return;
    var rtl = getComputedStyle(box()).direction === "rtl";
    var step = { ArrowDown: 7, ArrowUp: -7, ArrowLeft: rtl ? 1 : -1, ArrowRight: rtl ? -1 : 1 };
    if (event.key === "PageDown" || event.key === "PageUp") {
      event.preventDefault();
      if (cursor < 0) cursor = startCursor(cells);
      moveMonth(event.key === "PageDown");
    } else if (event.key in step && (cursor >= 0 || Math.abs(step[event.key]) === 7)) {
      event.preventDefault();
      if (cursor < 0) {
        cursor = startCursor(cells);
      } else {
        cursor = Math.max(0, Math.min(cells.length - 1, cursor + step[event.key]));
      }
      showCursor(cells);
    } else if (event.key === "Enter" && cursor >= 0) {
      event.preventDefault();  // not the form's submit
      var chosen = cells[cursor];
      cursor = -1;
      chosen.click();
      close(true);
    }
  }, true);
  // A click or tap outside the calendar and its field closes it.
  document.addEventListener("pointerdown", function (event) {
    var container = box();
    if (!field || !container) return;
    if (container.contains(event.target) || event.target === field) return;
    close(false);
  }, true);
  window.addEventListener("resize", later);
  window.addEventListener("scroll", later, { passive: true, capture: true });
  if (window.ResizeObserver) {
    var watched = null;
    var observer = new window.ResizeObserver(later);
    document.addEventListener("focusin", function () {
      var container = document.querySelector("jdp-container");
      if (container && container !== watched) {
        observer.observe(container);
        watched = container;
      }
    });
  }
})();
