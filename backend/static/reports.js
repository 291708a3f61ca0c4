// Report charts: each <canvas data-chart='{"type", "labels", "datasets", "locale", "rtl"}'>
// is drawn with the vendored Chart.js. Data comes in the data attribute (the page's
// Content-Security-Policy allows no inline script); numbers are formatted in the page's
// language (Persian digits in Persian).
(function () {
  "use strict";
  if (!window.Chart) return;
  var colours = ["#1d4ed8", "#93c5fd", "#047857", "#6ee7b7", "#b45309", "#fcd34d",
                 "#7c3aed", "#c4b5fd", "#be123c", "#fda4af", "#0f766e", "#5eead4"];
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var spec;
    try {
      spec = JSON.parse(canvas.getAttribute("data-chart"));
    } catch (error) {
      return;
    }
    var datasets = spec.datasets.map(function (dataset, index) {
      var colour = colours[index % colours.length];
      return {
        label: dataset.label,
        data: dataset.data,
        borderColor: colour,
        backgroundColor: spec.type === "bar" ? colour : colour + "33",
        tension: 0.2,
        spanGaps: true,
      };
    });
    new window.Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        locale: spec.locale,
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          title: { display: !!spec.title, text: spec.title },
          legend: { rtl: spec.rtl, textDirection: spec.rtl ? "rtl" : "ltr" },
          tooltip: { rtl: spec.rtl, textDirection: spec.rtl ? "rtl" : "ltr" },
        },
        scales: { x: { reverse: spec.rtl } },
      },
    });
    canvas.setAttribute("data-drawn", "1");
  });
})();
