// The counter's purchase form (issue 18 item 2), on top of a form that works without it:
// a product's list price fills its line (read-only, as the server requires), lines are
// added and removed in place, and the lines' total is shown. Without this script the
// same buttons make a round trip that keeps everything typed.
(function () {
  "use strict";
  var form = document.getElementById("purchase-form");
  var box = document.getElementById("item-lines");
  if (!form || !box) return;
  var list = document.getElementById("product-list");
  var totalOut = document.getElementById("lines-total");
  var amount = form.querySelector("input[name=amount]");
  var maxLines = parseInt(box.getAttribute("data-max-lines"), 10) || 50;
  var language = document.documentElement.lang === "fa" ? "fa-IR" : "en-US";

  function latin(text) {
    return String(text || "").replace(/[\u06F0-\u06F9]/g, function (d) {
      return String(d.charCodeAt(0) - 0x06F0);
    }).replace(/[\u0660-\u0669]/g, function (d) {
      return String(d.charCodeAt(0) - 0x0660);
    });
  }

  function number(text) {
    // Separators people type (, ٬ ، . spaces) between groups of a whole amount.
    var digits = latin(text).replace(/[,\u066C\u060C.\s\u200C_]/g, "");
    return /^\d{1,15}$/.test(digits) ? parseInt(digits, 10) : NaN;
  }

  function product(text) {
    var wanted = latin(text).trim();
    if (!wanted || !list) return null;
    var lower = wanted.toLowerCase();
    for (var i = 0; i < list.options.length; i++) {
      var option = list.options[i];
      if (option.value === wanted || (option.getAttribute("data-name") || "").toLowerCase() === lower) {
        return option;
      }
    }
    return null;
  }

  function lines() {
    return box.querySelectorAll(".item-line");
  }

  function fill(line) {
    var sku = line.querySelector("input[name=item_sku]");
    var price = line.querySelector("input[name=item_price]");
    var option = product(sku.value);
    if (option && option.getAttribute("data-fixed") === "1") {
      price.value = option.getAttribute("data-price");
      price.readOnly = true;
    } else if (price.readOnly) {
      price.readOnly = false;
      price.value = "";
    }
  }

  function total() {
    var sum = 0, any = false, ok = true;
    Array.prototype.forEach.call(lines(), function (line) {
      var sku = line.querySelector("input[name=item_sku]").value.trim();
      if (!sku) return;
      var qtyText = line.querySelector("input[name=item_qty]").value.trim();
      var qty = qtyText ? number(qtyText) : 1;
      var price = number(line.querySelector("input[name=item_price]").value);
      any = true;
      if (isNaN(qty) || isNaN(price)) { ok = false; return; }
      sum += qty * price;
    });
    if (!totalOut) return;
    totalOut.hidden = !any || !ok;
    if (any && ok) {
      var shown = new Intl.NumberFormat(language).format(sum);
      totalOut.textContent = totalOut.getAttribute("data-label") + ": " + shown;
      if (amount) amount.placeholder = shown;
    } else if (amount) {
      amount.placeholder = "";
    }
  }

  function renumber() {
    Array.prototype.forEach.call(lines(), function (line, index) {
      line.setAttribute("data-line", String(index));
      line.querySelector(".remove-line").value = String(index);
      line.querySelectorAll(".pick").forEach(function (pick) {
        pick.value = index + pick.value.slice(pick.value.indexOf(":"));
      });
    });
  }

  box.addEventListener("input", function (event) {
    var line = event.target.closest(".item-line");
    if (line && event.target.name === "item_sku") fill(line);
    total();
  });
  box.addEventListener("change", function (event) {
    var line = event.target.closest(".item-line");
    if (line && event.target.name === "item_sku") fill(line);
    total();
  });

  box.addEventListener("click", function (event) {
    var remove = event.target.closest(".remove-line");
    var add = event.target.closest(".add-line");
    if (remove) {
      event.preventDefault();
      var line = remove.closest(".item-line");
      if (lines().length > 1) {
        line.parentNode.removeChild(line);
      } else {
        line.querySelectorAll("input").forEach(function (input) {
          input.value = "";
          input.readOnly = false;
        });
      }
      renumber();
      total();
    } else if (add) {
      event.preventDefault();
      var all = lines();
      if (all.length >= maxLines) return;
      var last = all[all.length - 1];
      var fresh = last.cloneNode(true);
      fresh.classList.remove("has-error");
      fresh.querySelectorAll(".error, .line-product, .suggestions").forEach(function (node) {
        node.parentNode.removeChild(node);
      });
      fresh.querySelectorAll("input").forEach(function (input) {
        input.value = "";
        input.readOnly = false;
      });
      last.parentNode.insertBefore(fresh, last.nextSibling);
      renumber();
      fresh.querySelector("input[name=item_sku]").focus();
    }
  });

  total();
})();
