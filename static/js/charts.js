// Draws every <canvas data-chart="ID"> from the JSON in <script id="ID">, again after htmx swaps.
(function () {
  "use strict";
  var COLOURS = { line: "#2a5bd7", fill: "rgba(42, 91, 215, 0.12)" };

  // A value with no value on either side draws no line: its point is shown, or it would be invisible.
  function isolated(values, index) {
    return values[index] !== null
      && (index === 0 || values[index - 1] === null)
      && (index === values.length - 1 || values[index + 1] === null);
  }

  function pointRadius(values, spark) {
    return function (context) {
      if (isolated(values, context.dataIndex)) return spark ? 2 : 3;
      return spark ? 0 : 2;
    };
  }

  function draw(canvas) {
    if (canvas.dataset.drawn || typeof Chart === "undefined") return;
    var source = document.getElementById(canvas.dataset.chart);
    if (!source) return;
    var data = JSON.parse(source.textContent);
    var spark = canvas.dataset.kind === "spark";
    var type = canvas.dataset.kind === "bar" ? "bar" : "line";
    canvas.dataset.drawn = "1";
    new Chart(canvas, {
      type: type,
      data: {
        labels: data.labels,
        datasets: [{
          data: data.values, borderColor: COLOURS.line, backgroundColor: type === "bar" ? COLOURS.line : COLOURS.fill,
          fill: type === "line", tension: 0.25, pointRadius: pointRadius(data.values, spark), spanGaps: false, borderWidth: spark ? 1.5 : 2
        }]
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        plugins: { legend: { display: false }, tooltip: { enabled: !spark } },
        scales: spark ? { x: { display: false }, y: { display: false } } : { y: { beginAtZero: true } }
      }
    });
  }

  function drawAll(root) {
    (root || document).querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(); });
  document.addEventListener("htmx:afterSettle", function (event) { drawAll(event.target); });
})();
