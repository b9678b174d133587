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
  var state = { sample: 0, concept: 0, mode: "add", strokes: [], stroke: null };
  var times = { ready: null, edits: [] };
  window.DR_PAINT_TIMES = times;

  var canvas = q("[data-dr-paint-canvas]"), original = q("[data-dr-paint-original]");
  var grid = q("[data-dr-paint-grid]");
  [canvas, original].forEach(function (c) { c.width = IW; c.height = IH; });

  function edited(sample, strokes) {
    var h = acts.slice(sample * U * HW, (sample + 1) * U * HW);
    strokes.forEach(function (s) {
      var c = data.concepts[s.concept];
      c.units.forEach(function (u, k) {
        var target = s.mode === "add" ? c.levels[k] : 0;
        s.cells.forEach(function (cell) {
          var i = u * HW + cell;
          h[i] = h[i] + (target - h[i]);
        });
      });
    });
    return h;
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
      cell.style.borderColor = s ? data.concepts[s.concept].color : "";
    });
    q("[data-dr-paint-undo]").disabled = q("[data-dr-paint-reset]").disabled =
      state.strokes.length === 0;
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
      state.stroke = { concept: state.concept, mode: state.mode, cells: [] };
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

  function buildControls() {
    var concepts = q("[data-dr-paint-concept]");
    data.concepts.forEach(function (c, i) {
      var o = document.createElement("option");
      o.value = String(i);
      o.textContent = c.name + " (" + c.units.length + " units)";
      concepts.appendChild(o);
    });
    concepts.addEventListener("change", function () { state.concept = +concepts.value; });
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
    return select(0);
  }).then(function () {
    times.ready = performance.now();  // since navigation start: loading + ORT + first image
    times.edits = [];
    status.textContent = "Ready in " + (times.ready / 1000).toFixed(1) +
      " s. Paint on the image: drag over cells to add or remove the concept there.";
    return thumbnails(0);
  }).catch(fail);
})();
