/* dissect-report Paint page: repaint a sample by forcing a concept's units on (add) or off
 * (remove) in cells of the intervention layer, and regenerate the image with the generator's
 * tail (ONNX) in ONNX Runtime Web. No server, no network, works from file://.
 *
 * How it loads from file:// (where fetch() of .wasm/.onnx files and <script type="module">
 * are blocked): every byte arrives through classic <script src> tags, which file:// allows:
 *   ort.js    window.DR_ORT = {src: the ES-module text of ort.wasm.bundle.min.mjs,
 *                              wasmGz: base64 of the gzipped ort-wasm-simd-threaded.wasm}
 *   model.js  window.DR_PAINT_MODEL = base64 of tail.onnx
 *   data.js   window.DR_PAINT = paint.json + base64 activations (float16) and latents (float32)
 * The module text is imported from a blob: URL (dynamic import() works in classic scripts and
 * blob: URLs are not subject to the file:// restriction); the wasm is gunzipped with the
 * browser's DecompressionStream and handed to ORT as env.wasm.wasmBinary, so ORT never
 * fetches it. numThreads = 1 and proxy = false: no worker, no SharedArrayBuffer, so no
 * cross-origin isolation is needed.
 *
 * The edit is the interventions' primitive (dissect_report/modeltools/edit.py, blend):
 * h <- h + m * (target - h) for the concept's units, m = 1 on the painted cells, target = the
 * unit's insertion level (add) or 0 (remove); strokes apply in the order painted.
 *
 * Any units: besides the concepts' brushes, "your units" is a set of the layer's units picked
 * from the list (labels from the dissection) or given in the page's URL (paint/index.html
 * ?units=3,17&sample=2; a unit page links here with its unit); their levels are
 * data.unit_levels. Each stroke keeps its own units, levels, mode and strength s (the
 * primitive's soft mask value: h <- h + s * (target - h)), so the history lists every stroke
 * and any one of them can be undone.
 *
 * Brushes: each concept lists its units strongest first (data.concepts[i].units: an
 * optimized unit set ranked by learned alpha when paint.json has brushes) and a default
 * count n; the "units" control sets how many of them a stroke uses (GANPaint's choice). The
 * measured precision of the default brush is shown with it, and a brush below the report's
 * bar (data.brushes.min_precision) is offered apart, marked.
 */
(function () {
  "use strict";

  var root = document.querySelector("[data-dr-paint]");
  if (!root) return;
  var data = window.DR_PAINT;
  var q = function (sel) { return root.querySelector(sel); };
  var status = q("[data-dr-paint-status]");

  function b64(s) {
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function gunzip(bytes) {
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).arrayBuffer();
  }

  function halfToFloat(bits) {
    var out = new Float32Array(bits.length);
    for (var i = 0; i < bits.length; i++) {
      var h = bits[i], s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
      out[i] = e === 0 ? s * f * Math.pow(2, -24)
        : e === 31 ? (f ? NaN : s * Infinity)
        : s * Math.pow(2, e - 15) * (1 + f / 1024);
    }
    return out;
  }

  var U = data.shape[0], H = data.shape[1], W = data.shape[2], HW = H * W;
  var IH = data.image[1], IW = data.image[2];
  var acts = halfToFloat(new Uint16Array(b64(data.activations).buffer));
  var latents = new Float32Array(b64(data.latents).buffer);
  var ort = null, session = null;
  var state = {
    sample: 0, concept: 0, mode: "add", strokes: [], stroke: null, custom: [], strength: 1,
  };
  var CUSTOM = "custom";  // the concept select's value for "your units"
  state.count = data.concepts.map(function (c) { return c.n || c.units.length; });
  var times = { ready: null, edits: [] };
  window.DR_PAINT_TIMES = times;

  var canvas = q("[data-dr-paint-canvas]"), original = q("[data-dr-paint-original]");
  var grid = q("[data-dr-paint-grid]");
  [canvas, original].forEach(function (c) { c.width = IW; c.height = IH; });

  function edited(sample, strokes) {
    var h = acts.slice(sample * U * HW, (sample + 1) * U * HW);
    strokes.forEach(function (s) {
      s.units.forEach(function (u, k) {
        var target = s.mode === "add" ? s.levels[k] : 0;
        s.cells.forEach(function (cell) {
          var i = u * HW + cell;
          h[i] = h[i] + s.strength * (target - h[i]);
        });
      });
    });
    return h;
  }

  // The brush a new stroke uses: a concept's units, or "your units" (picked or from the URL).
  function brush() {
    if (state.concept === CUSTOM) {
      return {
        name: "units " + state.custom.join(", "), color: "#ffd600", units: state.custom.slice(),
        levels: state.custom.map(function (u) { return data.unit_levels[u]; }),
      };
    }
    var c = data.concepts[state.concept], n = state.count[state.concept];
    return {
      name: c.name, color: c.color, units: c.units.slice(0, n), levels: c.levels.slice(0, n),
    };
  }

  // ORT runs one inference at a time per session: every run goes through this queue.
  var queue = Promise.resolve();
  function run(sample, h) {
    var feeds = {}, zd = data.z_dim;
    if (data.inputs.indexOf("h") >= 0) feeds.h = new ort.Tensor("float32", h, [1, U, H, W]);
    if (data.inputs.indexOf("z") >= 0) {
      feeds.z = new ort.Tensor("float32", latents.slice(sample * zd, (sample + 1) * zd), [1, zd]);
    }
    var result = queue.then(function () { return session.run(feeds); })
      .then(function (out) { return out[session.outputNames[0]].data; });
    queue = result.catch(function () { return null; });
    return result;
  }

  function draw(target, pixels) {
    var ctx = target.getContext("2d"), img = ctx.createImageData(IW, IH), n = IW * IH;
    for (var p = 0; p < n; p++) {
      for (var ch = 0; ch < 3; ch++) {
        var v = Math.max(-1, Math.min(1, pixels[ch * n + p]));
        img.data[4 * p + ch] = Math.round((v + 1) * 127.5);
      }
      img.data[4 * p + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }

  // One regeneration at a time; edits made meanwhile are folded into the next one.
  var busy = null, dirty = false;
  function regenerate() {
    if (busy) { dirty = true; return busy; }
    root.dataset.state = "busy";
    var start = performance.now();
    busy = run(state.sample, edited(state.sample, state.strokes)).then(function (pixels) {
      draw(canvas, pixels);
      var ms = performance.now() - start;
      times.edits.push(ms);
      status.textContent = "Regenerated in " + ms.toFixed(0) + " ms.";
      busy = null;
      if (dirty) { dirty = false; return regenerate(); }
      root.dataset.state = "ready";
    });
    busy.catch(fail);
    return busy;
  }

  function showOriginal() {
    return run(state.sample, edited(state.sample, [])).then(function (pixels) {
      draw(original, pixels);
    });
  }

  function paintCells() {
    var marks = {};
    state.strokes.forEach(function (s) {
      s.cells.forEach(function (cell) { marks[cell] = s; });
    });
    Array.prototype.forEach.call(grid.children, function (cell, i) {
      var s = marks[i];
      cell.className = s ? "dr-paint-" + s.mode : "";
      cell.style.borderColor = s ? s.color : "";
    });
    q("[data-dr-paint-undo]").disabled = q("[data-dr-paint-reset]").disabled =
      state.strokes.length === 0;
    showHistory();
  }

  // Every stroke in order, each with its own undo (GANPaint's history of edits).
  function showHistory() {
    var list = q("[data-dr-paint-history]");
    if (!list) return;
    list.textContent = "";
    state.strokes.forEach(function (s, i) {
      var li = document.createElement("li");
      li.dataset.stroke = String(i);
      li.appendChild(document.createTextNode(
        s.mode + " " + s.name + " (" + s.units.length + (s.units.length === 1 ? " unit" : " units") +
        ", strength " + s.strength + ") on " + s.cells.length +
        (s.cells.length === 1 ? " cell " : " cells ")));
      var b = document.createElement("button");
      b.type = "button";
      b.className = "md-button";
      b.textContent = "undo";
      b.title = "undo this stroke only";
      b.addEventListener("click", function () {
        state.strokes.splice(i, 1); paintCells(); regenerate();
      });
      li.appendChild(b);
      list.appendChild(li);
    });
  }

  function touch(i) {
    var s = state.stroke;
    if (!s || s.cells.indexOf(i) >= 0) return;
    s.cells.push(i);
    paintCells();
    regenerate();
  }

  function buildGrid() {
    grid.style.gridTemplateColumns = "repeat(" + W + ", 1fr)";
    grid.style.gridTemplateRows = "repeat(" + H + ", 1fr)";
    grid.parentNode.style.aspectRatio = IW + " / " + IH;  // layers and images need not be square
    for (var i = 0; i < HW; i++) {
      var cell = document.createElement("div");
      cell.dataset.cell = String(i);
      grid.appendChild(cell);
    }
    grid.addEventListener("pointerdown", function (e) {
      var i = e.target.dataset ? parseInt(e.target.dataset.cell, 10) : NaN;
      if (isNaN(i) || !session) return;
      e.preventDefault();
      if (grid.releasePointerCapture) grid.releasePointerCapture(e.pointerId);
      var b = brush();
      if (!b.units.length) { status.textContent = "Pick at least one unit first."; return; }
      state.stroke = {
        name: b.name, color: b.color, units: b.units, levels: b.levels, mode: state.mode,
        strength: state.strength, cells: [],
      };
      state.strokes.push(state.stroke);
      touch(i);
    });
    grid.addEventListener("pointerover", function (e) {
      var i = e.target.dataset ? parseInt(e.target.dataset.cell, 10) : NaN;
      if (!isNaN(i) && state.stroke && e.buttons) touch(i);
    });
    document.addEventListener("pointerup", function () { state.stroke = null; });
  }

  function select(index) {
    root.dataset.state = "busy";
    state.sample = index;
    state.strokes = [];
    paintCells();
    Array.prototype.forEach.call(q("[data-dr-paint-samples]").children, function (b, i) {
      b.setAttribute("aria-pressed", String(i === index));
    });
    return showOriginal().then(regenerate);
  }

  // "Your units": the picker, the chosen units (linked to their pages) and the URL.
  function showCustom() {
    var chosen = q("[data-dr-paint-chosen]"), concepts = q("[data-dr-paint-concept]");
    chosen.textContent = "";
    state.custom.forEach(function (u) {
      var span = document.createElement("span");
      span.className = "dr-paint-chip";
      var a = document.createElement("a");
      a.href = data.unit_href.replace("{unit}", String(u));
      a.textContent = String(u);
      a.title = data.unit_labels[u];
      var x = document.createElement("button");
      x.type = "button";
      x.textContent = "\u00d7";
      x.title = "leave unit " + u + " out";
      x.addEventListener("click", function () {
        state.custom = state.custom.filter(function (v) { return v !== u; });
        showCustom();
      });
      span.appendChild(a);
      span.appendChild(x);
      chosen.appendChild(span);
    });
    var opt = concepts.querySelector("option[value=" + CUSTOM + "]");
    opt.textContent = "your units (" + state.custom.length + ")";
  }

  function addUnits(units) {
    units.forEach(function (u) {
      if (u >= 0 && u < U && state.custom.indexOf(u) < 0) state.custom.push(u);
    });
    showCustom();
  }

  // ?units=3,17&mode=remove&sample=2&strength=0.5 (or the same after #): what a link asks for.
  function fromUrl() {
    var text = (location.search || "").slice(1) + "&" + (location.hash || "").slice(1);
    var params = {};
    text.split("&").forEach(function (kv) {
      var i = kv.indexOf("=");
      if (i > 0) params[decodeURIComponent(kv.slice(0, i))] = decodeURIComponent(kv.slice(i + 1));
    });
    var units = (params.units || "").split(",").map(function (v) { return parseInt(v, 10); })
      .filter(function (v) { return !isNaN(v); });
    var sample = parseInt(params.sample || "", 10);
    return {
      units: units, mode: params.mode === "remove" ? "remove" : null,
      sample: isNaN(sample) ? 0 : Math.max(0, Math.min(data.samples.length - 1, sample)),
      strength: parseFloat(params.strength || ""),
    };
  }

  function pct(v) { return Math.round(100 * v) + "%"; }

  // A concept's brush: its first n units (linked to their pages) and what it was measured to do.
  function showBrush() {
    var box = q("[data-dr-paint-brush-box]"), count = q("[data-dr-paint-count]");
    var list = q("[data-dr-paint-units]"), note = q("[data-dr-paint-brush]");
    list.textContent = "";
    note.textContent = "";
    box.hidden = count.disabled = state.concept === CUSTOM;
    if (state.concept === CUSTOM) return;
    var c = data.concepts[state.concept], n = state.count[state.concept];
    count.max = String(c.units.length);
    count.value = String(n);
    c.units.slice(0, n).forEach(function (u, k) {
      var a = document.createElement("a");
      a.href = data.unit_href.replace("{unit}", String(u));
      a.textContent = String(u);
      a.title = data.unit_labels[u] || "";
      if (k) list.appendChild(document.createTextNode(", "));
      list.appendChild(a);
    });
    note.dataset.offered = c.offered === false ? "false" : "true";
    if (c.precision === undefined || c.precision === null) {
      note.textContent = c.method ? "The " + c.name + " brush: its strokes changed nothing." : "";
      return;
    }
    var others = (c.others || []).map(function (o) { return o[0] + " " + pct(o[1]); });
    note.textContent = "The " + c.name + " brush" + (c.offered === false ? ", below " +
      pct(data.brushes.min_precision) + " precision," : "") + " with its " + c.n +
      " units (chosen by " + (c.method === "optimized" ? "learned causal effect" : "IoU") +
      "): " + pct(c.precision) + " of the pixels a stroke changed became " + c.name +
      " on " + c.strokes + " held-out strokes " + (c.on_ground ? "on the ground" : "away from it") +
      (others.length ? " (else " + others.join(", ") + ")" : "") + "." +
      (c.place && c.place.precision !== null && c.place.precision !== undefined ?
        " At its usual position (strokes where " + c.name + " usually appears, mostly over " +
        c.place.context + "): " +
        pct(c.place.precision) + "." : "") +
      (n !== c.n ? " You chose " + n + " units: not measured." : "");
  }

  function buildControls() {
    var concepts = q("[data-dr-paint-concept]"), marked = null, first = -1;
    var mine = document.createElement("option");
    mine.value = CUSTOM;
    concepts.appendChild(mine);
    data.concepts.forEach(function (c, i) {
      var o = document.createElement("option");
      o.value = String(i);
      var p = c.precision === undefined || c.precision === null ? "" : ", " + pct(c.precision);
      var bar = data.brushes ? data.brushes.min_precision : 0;
      if (c.place && c.place.precision !== null && c.place.precision !== undefined &&
          !(c.precision >= bar) && c.place.precision >= bar) {  // offered at its usual position
        p = ", " + pct(c.place.precision) + " at its usual position (mostly over " +
          c.place.context + ")";
      }
      o.textContent = c.name + " (" + (c.n || c.units.length) + " units" + p + ")";
      if (c.offered === false) {  // measured below the bar: listed apart, marked
        if (!marked) {
          marked = document.createElement("optgroup");
          marked.label = "below " + pct(data.brushes.min_precision) + " precision";
        }
        marked.appendChild(o);
      } else {
        concepts.appendChild(o);
        if (first < 0) first = i;
      }
    });
    if (marked) concepts.appendChild(marked);
    concepts.addEventListener("change", function () {
      state.concept = concepts.value === CUSTOM ? CUSTOM : +concepts.value;
      showBrush();
    });
    var count = q("[data-dr-paint-count]");
    count.addEventListener("input", function () {
      var v = parseInt(count.value, 10);
      if (isNaN(v) || state.concept === CUSTOM) return;
      var c = data.concepts[state.concept];
      state.count[state.concept] = Math.max(1, Math.min(c.units.length, v));
      showBrush();
    });
    var picker = q("[data-dr-paint-unit]");
    data.unit_labels.forEach(function (label, u) {
      var o = document.createElement("option");
      o.value = String(u);
      o.textContent = u + " \u00b7 " + label;
      picker.appendChild(o);
    });
    q("[data-dr-paint-add-unit]").addEventListener("click", function () {
      addUnits([+picker.value]);
      state.concept = CUSTOM;
      concepts.value = CUSTOM;
      showBrush();
    });
    var strength = q("[data-dr-paint-strength]"), shown = q("[data-dr-paint-strength-value]");
    strength.addEventListener("input", function () {
      state.strength = Math.max(0.05, Math.min(1, parseFloat(strength.value) || 1));
      shown.textContent = state.strength.toFixed(2);
    });
    var asked = fromUrl();
    addUnits(asked.units);
    if (state.custom.length) state.concept = CUSTOM;
    else state.concept = first >= 0 ? first : data.concepts.length ? 0 : CUSTOM;
    concepts.value = String(state.concept);
    showBrush();
    if (asked.mode) {
      state.mode = asked.mode;
      root.querySelector("[name=dr-paint-mode][value=" + asked.mode + "]").checked = true;
    }
    if (asked.strength > 0 && asked.strength <= 1) {
      state.strength = asked.strength;
      strength.value = String(asked.strength);
      shown.textContent = asked.strength.toFixed(2);
    }
    state.firstSample = asked.sample;
    Array.prototype.forEach.call(root.querySelectorAll("[name=dr-paint-mode]"), function (r) {
      r.addEventListener("change", function () { if (r.checked) state.mode = r.value; });
    });
    q("[data-dr-paint-undo]").addEventListener("click", function () {
      state.strokes.pop(); paintCells(); regenerate();
    });
    q("[data-dr-paint-reset]").addEventListener("click", function () {
      state.strokes = []; paintCells(); regenerate();
    });
    var link = q("[data-dr-paint-download]");
    link.addEventListener("click", function () {
      link.href = canvas.toDataURL("image/png");
      link.download = "paint-sample-" + data.samples[state.sample] + ".png";
    });
    var strip = q("[data-dr-paint-samples]");
    data.samples.forEach(function (id, i) {
      var b = document.createElement("button");
      b.type = "button";
      b.title = "held-out sample " + id;
      var c = document.createElement("canvas");
      c.width = IW; c.height = IH;
      b.appendChild(c);
      b.addEventListener("click", function () { if (session) select(i); });
      strip.appendChild(b);
    });
  }

  function thumbnails(i) {  // after the first image: each sample's original, one at a time
    if (i >= data.samples.length) return Promise.resolve();
    return run(i, edited(i, [])).then(function (pixels) {
      draw(q("[data-dr-paint-samples]").children[i].firstChild, pixels);
      return thumbnails(i + 1);
    });
  }

  function fail(err) {
    root.dataset.state = "error";
    status.textContent = "Paint could not start: " + (err && err.message ? err.message : err);
    console.error(err);
  }

  buildGrid();
  buildControls();
  paintCells();
  var moduleUrl = URL.createObjectURL(new Blob([window.DR_ORT.src], { type: "text/javascript" }));
  import(moduleUrl).then(function (mod) {
    ort = mod;
    URL.revokeObjectURL(moduleUrl);
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    return gunzip(b64(window.DR_ORT.wasmGz));
  }).then(function (wasm) {
    ort.env.wasm.wasmBinary = wasm;
    return ort.InferenceSession.create(b64(window.DR_PAINT_MODEL), {
      executionProviders: ["wasm"], graphOptimizationLevel: "all",
    });
  }).then(function (s) {
    session = s;
    return select(state.firstSample || 0);
  }).then(function () {
    times.ready = performance.now();  // since navigation start: loading + ORT + first image
    times.edits = [];
    status.textContent = "Ready in " + (times.ready / 1000).toFixed(1) +
      " s. Paint on the image: drag over cells to add or remove the concept there.";
    return thumbnails(0);
  }).catch(fail);
})();
