/* A minimal Web Worker shim for pages opened from file://, where browsers refuse to start
 * workers. It runs the worker script inside a hidden same-origin iframe and relays messages,
 * which is all Material's search worker needs. Written for dissect-report (no CDN). */
(function () {
  "use strict";
  if (location.protocol !== "file:") return;

  function IFrameWorker(url) {
    var self = this;
    var target = document.createElement("div");
    this._target = target;
    this.onmessage = null;
    this.onerror = null;
    this._queue = [];
    this._ready = false;

    var iframe = document.createElement("iframe");
    iframe.hidden = true;
    iframe.setAttribute("aria-hidden", "true");
    iframe.setAttribute("tabindex", "-1");
    (document.body || document.documentElement).appendChild(iframe);
    this._iframe = iframe;
    var win = iframe.contentWindow;

    // Inside the iframe, postMessage() goes back to this worker object.
    win.postMessage = function (data) {
      var ev = new MessageEvent("message", { data: data });
      target.dispatchEvent(ev);
      if (typeof self.onmessage === "function") self.onmessage(ev);
    };
    win.importScripts = function () {
      throw new Error("importScripts is not supported by the file:// worker shim");
    };
    win.addEventListener("error", function (err) {
      var ev = new ErrorEvent("error", { message: err.message });
      target.dispatchEvent(ev);
      if (typeof self.onerror === "function") self.onerror(ev);
    });

    var script = win.document.createElement("script");
    script.src = new URL(url, location.href).href;
    script.onload = function () {
      self._ready = true;
      self._queue.forEach(function (data) { self._deliver(data); });
      self._queue = [];
    };
    win.document.head.appendChild(script);
  }

  IFrameWorker.prototype._deliver = function (data) {
    var win = this._iframe.contentWindow;
    win.dispatchEvent(new win.MessageEvent("message", { data: data }));
  };
  IFrameWorker.prototype.postMessage = function (data) {
    if (this._ready) this._deliver(data);
    else this._queue.push(data);
  };
  IFrameWorker.prototype.addEventListener = function (type, fn, opts) {
    this._target.addEventListener(type, fn, opts);
  };
  IFrameWorker.prototype.removeEventListener = function (type, fn, opts) {
    this._target.removeEventListener(type, fn, opts);
  };
  IFrameWorker.prototype.terminate = function () {
    this._iframe.remove();
  };

  window.IFrameWorker = IFrameWorker;
  window.Worker = IFrameWorker;
})();
