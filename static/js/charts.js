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

  // A metric by dimension (databoard tiles "Bar chart by dimension" and "Donut by dimension"):
  // one bar or slice per dimension, labelled with the dimension's label, "Other" last.
  var DIMENSION_KINDS = { dim_bar: "bar", dim_donut: "doughnut" };
  var DIMENSION_PALETTE = ["#2a5bd7", "#1d7a46", "#d97706", "#b42318", "#7c3aed", "#0e7490", "#be185d",
    "#4d7c0f", "#a16207", "#475569", "#9ca3af"];

  function drawByDimension(canvas, data) {
    var type = DIMENSION_KINDS[canvas.dataset.kind];
    var colours = data.labels.map(function (_, index) { return DIMENSION_PALETTE[index % DIMENSION_PALETTE.length]; });
    new Chart(canvas, {
      type: type,
      data: { labels: data.labels, datasets: [{ data: data.values, backgroundColor: colours, borderWidth: type === "bar" ? 0 : 1 }] },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        indexAxis: type === "bar" ? "y" : "x",
        plugins: { legend: { display: type === "doughnut", position: "bottom" } },
        scales: type === "bar" ? { x: { beginAtZero: true } } : {}
      }
    });
  }

  // The metric page's breakdown over time (data-kind="stacked-bar"): one dataset per dimension and
  // Other; stacked when the values add up (Sum, Count), side by side otherwise.
  function drawStacked(canvas, data) {
    var stacked = Boolean(data.stacked);
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: data.datasets.map(function (line, index) {
          return { label: line.label, data: line.values, backgroundColor: DIMENSION_PALETTE[index % DIMENSION_PALETTE.length] };
        })
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        plugins: { legend: { display: true, position: "bottom" } },
        scales: { x: { stacked: stacked }, y: { stacked: stacked, beginAtZero: true } }
      }
    });
  }

  // The page's own <script type="application/json">, else the one in the htmx response just swapped in:
  // htmx drops every <script> of swapped content (allowScriptTags is false in base.html), data included.
  function chartData(canvas, response) {
    var id = canvas.dataset.chart;
    var source = document.getElementById(id) || (response && response().getElementById(id));
    return source ? JSON.parse(source.textContent) : null;
  }

  function draw(canvas, response) {
    if (canvas.dataset.drawn || typeof Chart === "undefined") return;
    var data = chartData(canvas, response);
    if (!data) return;
    if (DIMENSION_KINDS[canvas.dataset.kind]) {
      canvas.dataset.drawn = "1";
      drawByDimension(canvas, data);
      return;
    }
    if (canvas.dataset.kind === "stacked-bar") {
      canvas.dataset.drawn = "1";
      drawStacked(canvas, data);
      return;
    }
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

  function drawAll(root, response) {
    (root || document).querySelectorAll("canvas[data-chart]").forEach(function (canvas) { draw(canvas, response); });
  }

  // The response is parsed (inert: DOMParser runs no script) only when a swapped canvas needs its data.
  function parsedResponse(xhr) {
    var parsed = null;
    return function () {
      if (!parsed) parsed = new DOMParser().parseFromString(xhr && xhr.responseText || "", "text/html");
      return parsed;
    };
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(); });
  document.addEventListener("htmx:afterSettle", function (event) {
    drawAll(event.target, parsedResponse(event.detail && event.detail.xhr));
  });
})();
