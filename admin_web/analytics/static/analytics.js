// Draws the Analytics page's charts from the JSON the server embedded in the page.
(function () {
  "use strict";
  var COLORS = ["#2f6fb0", "#e0803a", "#3f9b5c", "#c94c4c", "#8a63b8", "#8c6d45",
                "#d46fa8", "#6f7f8f", "#b5b53c", "#3bb0bf", "#1f4e79", "#a0522d"];

  function label(data, key) { return (data.labels && data.labels[key]) || key; }

  function chart(id, config) {
    var el = document.getElementById(id);
    if (!el) { return null; }
    var wide = el.parentNode.classList.contains("wide");
    config.options = Object.assign({ animation: false, responsive: true,
      aspectRatio: wide ? 4 : (config.type === "doughnut" ? 1.6 : 1.4),
      plugins: { legend: { display: config.type === "doughnut" || config.legend === true } } },
      config.options || {});
    var c = new window.Chart(el, config);
    el.setAttribute("data-rendered", "1");
    return c;
  }

  function bars(id, counts, data, horizontal) {
    var keys = Object.keys(counts);
    return chart(id, {
      type: "bar",
      data: { labels: keys.map(function (k) { return label(data, k); }),
              datasets: [{ data: keys.map(function (k) { return counts[k]; }),
                           backgroundColor: COLORS[0] }] },
      options: { indexAxis: horizontal ? "y" : "x" }
    });
  }

  function doughnut(id, counts, data) {
    var keys = Object.keys(counts);
    return chart(id, {
      type: "doughnut",
      data: { labels: keys.map(function (k) { return label(data, k); }),
              datasets: [{ data: keys.map(function (k) { return counts[k]; }),
                           backgroundColor: keys.map(function (_, i) { return COLORS[i % COLORS.length]; }) }] }
    });
  }

  function draw() {
    var node = document.getElementById("analytics-data");
    if (!node || !window.Chart) { return; }
    var data = JSON.parse(node.textContent);
    chart("chart-days", {
      type: "line",
      data: { labels: data.by_day.map(function (d) { return d.day; }),
              datasets: [{ label: label(data, "calls"), data: data.by_day.map(function (d) { return d.calls; }),
                           borderColor: COLORS[0], backgroundColor: COLORS[0], tension: 0.2, pointRadius: 0 }] }
    });
    chart("chart-hours", {
      type: "bar",
      data: { labels: data.by_hour.map(function (_, h) { return (h < 10 ? "0" : "") + h; }),
              datasets: [{ label: label(data, "calls"), data: data.by_hour, backgroundColor: COLORS[0] }] }
    });
    bars("chart-scores", data.score_bands, data, false);
    bars("chart-budget", data.budget_bands, data, false);
    bars("chart-zones", data.zones, data, true);
    doughnut("chart-urgency", data.urgency, data);
    doughnut("chart-sentiment", data.sentiment, data);
    var reply = data.latency.reply_ms, first = data.latency.first_audio_ms;
    chart("chart-latency", {
      type: "line", legend: true,
      data: { labels: reply.map(function (d) { return d.day; }),
              datasets: [
                { label: label(data, "reply") + " " + label(data, "p50"), data: reply.map(function (d) { return d.p50; }), borderColor: COLORS[0], pointRadius: 0 },
                { label: label(data, "reply") + " p95", data: reply.map(function (d) { return d.p95; }), borderColor: COLORS[3], pointRadius: 0 },
                { label: label(data, "first_audio") + " " + label(data, "p50"), data: first.map(function (d) { return d.p50; }), borderColor: COLORS[2], pointRadius: 0 },
                { label: label(data, "first_audio") + " p95", data: first.map(function (d) { return d.p95; }), borderColor: COLORS[1], pointRadius: 0 }
              ] }
    });
    var kinds = ["stt", "llm", "tts"], names = [];
    kinds.forEach(function (k) { Object.keys(data.usage[k]).forEach(function (n) { if (names.indexOf(k + ":" + n) < 0) { names.push(k + ":" + n); } }); });
    chart("chart-providers", {
      type: "bar", legend: true,
      data: { labels: kinds.map(function (k) { return k.toUpperCase(); }),
              datasets: names.map(function (full, i) {
                var kind = full.split(":")[0], name = full.slice(kind.length + 1);
                return { label: name, backgroundColor: COLORS[i % COLORS.length],
                         data: kinds.map(function (k) { return k === kind ? data.usage[k][name] : 0; }) };
              }) },
      options: { scales: { x: { stacked: true }, y: { stacked: true } } }
    });
    document.body.setAttribute("data-charts", "ready");
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
}());
