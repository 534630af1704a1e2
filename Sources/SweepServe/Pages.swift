import Foundation
import SweepReport
import SweepSpec
import SweepStore
import TailNet

/// The live view's HTML: one page that polls `/api/status` every second (and `/api/tables`
/// when the store changed), and a server-rendered page per trial.
enum Pages {
  static let style = """
    body { font-family: DejaVu Sans, Verdana, Arial, sans-serif; margin: 1.5em 2em; color: #111; max-width: 1200px; }
    h1 { font-size: 22px; margin-bottom: 0.2em; } h2 { font-size: 17px; margin-top: 1.4em; }
    table { border-collapse: collapse; margin: 0.6em 0; font-size: 13px; }
    caption { text-align: left; font-weight: bold; padding: 0.3em 0; }
    th, td { border: 1px solid #ccc; padding: 3px 8px; vertical-align: top; }
    th { background: #f0f0f0; }
    td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
    td.txt, th.txt { text-align: left; }
    p.notes, .muted { font-size: 12px; color: #555; }
    #bar { width: 100%; max-width: 600px; height: 14px; background: #eee; border: 1px solid #ccc; }
    #bar div { height: 100%; background: #0072B2; width: 0; }
    #answer li { margin: 0.3em 0; }
    .err { color: #a00; font-family: monospace; font-size: 12px; white-space: pre-wrap; }
    figure { display: inline-block; margin: 0.5em 1em 0.5em 0; vertical-align: top; }
    figure img, figure svg { max-width: 560px; height: auto; border: 1px solid #ddd; }
    figcaption { font-size: 12px; color: #333; max-width: 560px; }
    a { color: #0050a0; }
    """

  /// The live page. Its first content is rendered on the server (so it is readable without
  /// scripts); the inline script refreshes it from the JSON API every second.
  static func index(_ snap: Snapshot) -> String {
    let s = API.status(snap)
    let title = "TailSweep live: \(snap.sweepName ?? "waiting for a sweep")"
    return """
      <!DOCTYPE html>
      <html lang="en">
      <head>
      <meta charset="utf-8">
      <title>\(esc(title))</title>
      <style>\(style)</style>
      </head>
      <body>
      <h1 id="title">\(esc(title))</h1>
      <p class="muted" id="store">store \(esc(snap.storePath)) (read-only) · updated <span id="updated">\(esc(API.isoTime(snap.now)))</span></p>
      <h2>Answer so far</h2>
      <ul id="answer">\(answerItems(snap.answer))</ul>
      <h2>Progress</h2>
      <div id="bar"><div style="width: \(String(format: "%.1f", s.percent))%"></div></div>
      <p id="progress">\(esc(progressText(s)))</p>
      <p id="counts" class="muted">\(esc(countsText(s)))</p>
      <h2>Workers</h2>
      <table id="workers"><thead><tr><th class="txt">worker</th><th class="txt">host</th><th class="txt">state</th><th class="txt">now running (since, iteration)</th><th class="num">leases</th><th class="num">committed</th><th class="num">failed</th><th class="txt">last heartbeat</th></tr></thead><tbody></tbody></table>
      <p class="muted">\(esc(API.notStored))</p>
      <h2>Failures and divergences</h2>
      <div id="failures"><p class="muted">none</p></div>
      <h2>Figures</h2>
      <div id="figures"></div>
      <h2>Latest results</h2>
      <p class="muted">The 20 most recent commits; every trial has its page (links).</p>
      <table id="recent"><thead><tr><th class="txt">committed (UTC)</th><th class="txt">trial</th><th class="txt">state</th><th class="txt">stop</th><th class="num">iterations</th><th class="num">pruned %</th><th class="num">test acc %</th></tr></thead><tbody></tbody></table>
      <h2>Tables</h2>
      <p id="tables-note" class="muted"></p>
      <div id="tables"></div>
      <script>
      \(script)
      </script>
      </body>
      </html>

      """
  }

  static func answerItems(_ answer: [String]) -> String {
    if answer.isEmpty { return "<li class=\"muted\">No paired comparison yet.</li>" }
    return answer.map { "<li>\(esc($0))</li>" }.joined()
  }

  static func progressText(_ s: API.Status) -> String {
    if let w = s.waiting { return "Waiting: \(w)" }
    var t = "\(s.finished) of \(s.total) trials finished (\(String(format: "%.1f", s.percent)) %)"
    if let eta = s.etaSeconds { t += ", ETA " + duration(eta) }
    return t
  }

  static func countsText(_ s: API.Status) -> String {
    TrialState.allCases.map { "\($0.rawValue) \(s.counts[$0.rawValue] ?? 0)" }
      .joined(separator: " · ")
  }

  static func duration(_ seconds: Double) -> String {
    if seconds <= 0 { return "done" }
    let s = Int(seconds.rounded())
    if s < 60 { return "\(s) s" }
    if s < 3600 { return "\(s / 60) min \(s % 60) s" }
    if s < 86400 { return "\(s / 3600) h \(s % 3600 / 60) min" }
    return "\(s / 86400) d \(s % 86400 / 3600) h"
  }

  /// The page's script: polls `api/status` every second and `api/tables` when `tablesVersion`
  /// changed (a rebuild: not at every heartbeat or progress report).
  /// URLs are relative, so a token passed as `?token=` comes back through the cookie.
  static let script = """
    'use strict';
    let version = null;
    const $ = (id) => document.getElementById(id);
    const esc = (t) => String(t ?? '').replace(/[&<>"']/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));
    const num = (x, d) => (x === null || x === undefined) ? '—' : Number(x).toFixed(d);
    function dur(s) {
      if (s === null || s === undefined) return '—';
      s = Math.round(s);
      if (s <= 0) return 'done';
      if (s < 60) return s + ' s';
      if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
      if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor(s % 3600 / 60) + ' min';
      return Math.floor(s / 86400) + ' d ' + Math.floor(s % 86400 / 3600) + ' h';
    }
    function ago(t, now) {
      if (!t) return '—';
      const s = Math.max(0, (Date.parse(now) - Date.parse(t)) / 1000);
      return (s < 0.5 ? '0 s' : dur(s)) + ' ago';
    }
    function trialLink(id, label) { return '<a href="trial/' + id + '">' + esc(label) + '</a>'; }
    function render(s) {
      $('title').textContent = 'TailSweep live: ' + (s.sweep || 'waiting for a sweep');
      document.title = $('title').textContent;
      $('updated').textContent = s.now;
      $('bar').firstElementChild.style.width = s.percent.toFixed(1) + '%';
      let p = s.waiting ? 'Waiting: ' + s.waiting
        : s.finished + ' of ' + s.total + ' trials finished (' + s.percent.toFixed(1) + ' %)';
      if (!s.waiting && s.etaSeconds !== null && s.etaSeconds !== undefined) p += ', ETA ' + dur(s.etaSeconds);
      $('progress').textContent = p;
      $('progress').dataset.finished = s.finished;
      $('progress').dataset.total = s.total;
      $('counts').textContent = Object.entries(s.counts).map(([k, v]) => k + ' ' + v).join(' · ');
      $('answer').innerHTML = s.answer.length ? s.answer.map((a) => '<li>' + esc(a) + '</li>').join('')
        : '<li class="muted">No paired comparison yet.</li>';
      $('workers').tBodies[0].innerHTML = s.workers.map((w) => '<tr data-worker="' + esc(w.worker) + '"><td class="txt">' + esc(w.worker) +
        '</td><td class="txt">' + esc(w.host) + '</td><td class="txt">' +
        (w.state ? esc(w.state) + (w.slots ? ', ' + w.slots + (w.slots === 1 ? ' slot' : ' slots') : '') : '—') + '</td><td class="txt">' +
        (w.current.length ? w.current.map((l) => trialLink(l.trial, l.label) + ' (' + ago(l.startedAt, s.now) + ')' + (l.iteration == null ? '' : ' iteration ' + l.iteration + '/' + l.maxIterations + (l.progressAt ? ', reported ' + ago(l.progressAt, s.now) : ''))).join('<br>') : 'idle') +
        '</td><td class="num">' + w.attempts + '</td><td class="num">' + w.committed + '</td><td class="num">' + w.failed +
        '</td><td class="txt heartbeat">' + (w.lastHeartbeat ? ago(w.lastHeartbeat, s.now)
          : (w.lastSeen ? 'not recorded; last lease event ' + ago(w.lastSeen, s.now) : '—')) + '</td></tr>').join('');
      $('recent').tBodies[0].innerHTML = s.recent.slice(0, 20).map((r) => '<tr data-trial="' + r.trial + '"><td class="txt">' +
        esc(r.committedAt.slice(11, 19)) + '</td><td class="txt">' + trialLink(r.trial, r.label) + '</td><td class="txt">' + esc(r.state) +
        '</td><td class="txt">' + esc(r.stopReason) + '</td><td class="num">' + r.iterations + '</td><td class="num">' +
        num(r.prunedPercent, 1) + '</td><td class="num">' + num(r.testAccuracyPercent, 2) + '</td></tr>').join('');
      const bad = s.failures.concat(s.diverged);
      $('failures').innerHTML = bad.length ? '<table><thead><tr><th class="txt">trial</th><th class="txt">outcome</th><th class="txt">worker</th><th class="txt">ended</th><th class="txt">error</th></tr></thead><tbody>' +
        bad.map((f) => '<tr><td class="txt">' + trialLink(f.trial, f.label) + '</td><td class="txt">' + esc(f.outcome) +
          '</td><td class="txt">' + esc(f.worker) + '</td><td class="txt">' + esc(f.endedAt || '') + '</td><td class="err">' +
          esc(f.error || '') + '</td></tr>').join('') + '</tbody></table>' : '<p class="muted">none</p>';
    }
    async function refreshTables(v) {
      const r = await fetch('api/tables', {cache: 'no-store'});
      if (!r.ok) return;
      const t = await r.json();
      $('tables-note').textContent = t.note || '';
      $('tables').innerHTML = t.html;
      $('figures').innerHTML = t.figures.map((f) => '<figure><a href="' + f.url + '"><img src="' + f.url +
        '" alt="' + esc(f.title) + '"></a><figcaption>' + esc(f.title) + '</figcaption></figure>').join('');
      $('tables').dataset.version = v;
    }
    async function poll() {
      try {
        const r = await fetch('api/status', {cache: 'no-store'});
        if (r.ok) {
          const s = await r.json();
          render(s);
          if (s.tablesVersion !== version) { version = s.tablesVersion; await refreshTables(s.tablesVersion); }
          document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
        }
      } catch (e) { $('progress').textContent = 'Connection lost: ' + e; }
      setTimeout(poll, 1000);
    }
    poll();
    """

  /// A trial's page: configuration, provenance, attempts, training curves, the pruning curve,
  /// err(κ) and the tail-index estimates.
  static func trial(_ d: TrialDetail) -> String {
    let r = d.row
    let label = API.label(r.config)
    var h = """
      <!DOCTYPE html>
      <html lang="en">
      <head>
      <meta charset="utf-8">
      <title>Trial \(esc(String(r.id.hex.prefix(12)))): \(esc(label))</title>
      <style>\(style)</style>
      </head>
      <body>
      <p><a href="../">← live view</a> · <a href="../api/trial/\(r.id.hex)">JSON</a></p>
      <h1>\(esc(label))</h1>
      <p class="muted">trial \(r.id.hex) · state <b id="state">\(r.state.rawValue)</b> · \(r.attempts) lease(s)</p>

      """
    if let e = r.lastError { h += "<p class=\"err\">\(esc(e))</p>\n" }
    h += "<h2>Configuration</h2>\n<table id=\"config\"><tbody>\n"
    for key in ConfigKey.all {
      if let v = ConfigKey.value(key, of: r.config) {
        h +=
          "<tr><th class=\"txt\">\(esc(key))</th><td class=\"txt\">\(esc(v.description))</td></tr>\n"
      }
    }
    h += "</tbody></table>\n<h2>Provenance</h2>\n<table id=\"provenance\"><tbody>\n"
    if let p = d.provenance {
      let rows: [(String, String)] =
        [
          ("tailsweep", p.toolVersion), ("git commit", p.gitCommit ?? "—"),
          ("coordinator host", p.host), ("BLAS", p.blas),
        ] + p.datasetHashes.sorted { $0.key < $1.key }.map { ("data \($0.key)", $0.value) }
        + [("data hash reported by the worker", r.result?.datasetHash ?? "—")]
      for (k, v) in rows {
        h += "<tr><th class=\"txt\">\(esc(k))</th><td class=\"txt\">\(esc(v))</td></tr>\n"
      }
    }
    h += "</tbody></table>\n<h2>Attempts</h2>\n<table id=\"attempts\"><thead><tr>"
    for c in ["#", "worker", "host", "leased", "started", "ended", "outcome", "error"] {
      h += "<th class=\"txt\">\(c)</th>"
    }
    h += "</tr></thead><tbody>\n"
    for a in d.attempts {
      let cells = [
        "\(a.attempt)", a.worker, a.host, a.leased ? "yes" : "no",
        a.startedAt.map(API.isoTime) ?? "—", a.endedAt.map(API.isoTime) ?? "—",
        a.outcome?.rawValue ?? "running",
      ]
      h += "<tr>" + cells.map { "<td class=\"txt\">\(esc($0))</td>" }.joined()
      h += "<td class=\"err\">\(esc(a.error ?? ""))</td></tr>\n"
    }
    h += "</tbody></table>\n"
    guard let res = r.result else {
      h += "<p class=\"muted\">No result yet.</p>\n</body>\n</html>\n"
      return h
    }
    let t = res.training
    h += "<h2>Training</h2>\n<p id=\"training\">stopped: \(esc(t.stopReason.rawValue)) after "
    h += "\(t.iterations) iterations in \(String(format: "%.1f", t.wallSeconds)) s"
    if let at = t.divergedAt { h += "; diverged at iteration \(at)" }
    h += "</p>\n"
    for svg in trialFigures(res) { h += "<figure>\(svg)</figure>\n" }
    if let c = res.compression {
      h += "<h2>Compression</h2>\n<p id=\"compression\">budget r = \(c.budget): pruned "
      h += "\(String(format: "%.1f", c.pruningRatio * 100)) % of hidden parameters; test accuracy "
      h += "\(String(format: "%.2f", c.unpruned.testAccuracy * 100)) % unpruned, "
      h += "\(String(format: "%.2f", c.pruned.testAccuracy * 100)) % pruned.</p>\n"
      h += "<table id=\"layers\"><thead><tr>"
      for col in [
        "layer", "rows × cols", "pruned rows", "‖W − W_κ‖²/‖W‖²", "α̂ Hill (norms)",
        "α̂ other (norms)", "α̂ Hill (entries)", "α̂ other (entries)",
      ] {
        h += "<th class=\"txt\">\(esc(col))</th>"
      }
      h += "</tr></thead><tbody>\n"
      for (i, l) in c.layers.enumerated() {
        func est(_ x: Double?) -> String { x.map { String(format: "%.3f", $0) } ?? "—" }
        let cells = [
          "\(i + 1)", "\(l.rows) × \(l.columns)", "\(l.prunedRows)",
          String(format: "%.4f", l.squaredRelativeError), est(l.tailIndexNorms.hill),
          est(l.tailIndexNorms.other) + " (\(l.tailIndexNorms.otherName))",
          est(l.tailIndexEntries.hill),
          est(l.tailIndexEntries.other) + " (\(l.tailIndexEntries.otherName))",
        ]
        h += "<tr>" + cells.map { "<td class=\"num\">\(esc($0))</td>" }.joined() + "</tr>\n"
      }
      h += "</tbody></table>\n"
    }
    h += "</body>\n</html>\n"
    return h
  }

  /// Training curves, the fixed-ratio pruning curve and err(κ) of one trial, as inline SVG.
  static func trialFigures(_ res: TrialResult) -> [String] {
    var out: [String] = []
    let hist = res.training.history
    if !hist.isEmpty {
      let series = [
        PlotSeries(
          label: "train accuracy",
          points: hist.map { PlotPoint(x: Double($0.iteration), y: $0.trainAccuracy * 100) },
          color: 0),
        PlotSeries(
          label: "test accuracy",
          points: hist.map { PlotPoint(x: Double($0.iteration), y: $0.testAccuracy * 100) },
          color: 1, dashed: true),
      ]
      out.append(
        LinePlot(
          title: "Training curve", subtitle: "accuracy at each evaluation",
          xLabel: "iteration", yLabel: "accuracy (%)", xLog: false, series: series,
          yLimits: (0, 100), dodge: false
        ).svg())
      let losses = hist.filter { $0.trainLoss.isFinite && $0.testLoss.isFinite }
      if !losses.isEmpty {
        out.append(
          LinePlot(
            title: "Loss", subtitle: "cross-entropy at each evaluation", xLabel: "iteration",
            yLabel: "loss", xLog: false,
            series: [
              PlotSeries(
                label: "train loss",
                points: losses.map { PlotPoint(x: Double($0.iteration), y: $0.trainLoss) },
                color: 0),
              PlotSeries(
                label: "test loss",
                points: losses.map { PlotPoint(x: Double($0.iteration), y: $0.testLoss) },
                color: 1, dashed: true),
            ], dodge: false
          ).svg())
      }
    }
    guard let c = res.compression else { return out }
    if !c.fixedRatioCurve.isEmpty {
      out.append(
        LinePlot(
          title: "Pruning curve",
          subtitle: "test accuracy after removing the smallest-norm neurons (no retraining)",
          xLabel: "pruned fraction of hidden neurons (%)", yLabel: "test accuracy (%)",
          xLog: false,
          series: [
            PlotSeries(
              label: "pruned network",
              points: c.fixedRatioCurve.map {
                PlotPoint(x: $0.pruned * 100, y: $0.testAccuracy * 100)
              },
              color: 0)
          ], yLimits: (0, 100), dodge: false
        ).svg())
    }
    let curves = c.layers.enumerated().filter { !$0.element.errorCurve.isEmpty }
    if !curves.isEmpty {
      out.append(
        LinePlot(
          title: "err(κ)",
          subtitle: "relative error of keeping a fraction κ of each layer's neurons",
          xLabel: "κ (kept fraction)", yLabel: "relative error", xLog: false,
          series: curves.map { i, l in
            PlotSeries(
              label: "layer \(i + 1)",
              points: l.errorCurve.map { PlotPoint(x: $0.kept, y: $0.relativeError) }, color: i)
          }, dodge: false
        ).svg())
    }
    return out
  }

  static func esc(_ s: String) -> String { htmlEscape(s) }
}
