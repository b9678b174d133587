/* dissect-report site script: gallery sort/filter and image zoom. No network, no libraries.
 * Works from file:// (state lives in the URL hash, e.g. #concept=tree&sort=unit). */
(function () {
  "use strict";

  function readHash() {
    var state = {};
    location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      var i = part.indexOf("=");
      if (i > 0) {
        try {
          state[decodeURIComponent(part.slice(0, i))] = decodeURIComponent(part.slice(i + 1));
        } catch (e) { /* a malformed hash is ignored */ }
      }
    });
    return state;
  }

  function writeHash(state) {
    var parts = [];
    Object.keys(state).forEach(function (k) {
      if (state[k]) parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(state[k]));
    });
    var hash = parts.length ? "#" + parts.join("&") : "";
    if (history.replaceState) history.replaceState(null, "", hash || location.pathname);
  }

  var comparators = {
    iou: function (a, b) {
      return parseFloat(b.dataset.iou) - parseFloat(a.dataset.iou) ||
        parseInt(a.dataset.unit, 10) - parseInt(b.dataset.unit, 10);
    },
    concept: function (a, b) {
      return a.dataset.concept.localeCompare(b.dataset.concept) || comparators.iou(a, b);
    },
    unit: function (a, b) {
      return parseInt(a.dataset.unit, 10) - parseInt(b.dataset.unit, 10);
    }
  };

  function setupGallery(gallery) {
    var controls = document.querySelector(".dr-controls");
    if (!controls) return;
    var sort = controls.querySelector("[data-dr-sort]");
    var filter = controls.querySelector("[data-dr-filter]");
    var interp = controls.querySelector("[data-dr-interp]");
    var iouMin = controls.querySelector("[data-dr-iou-min]");
    var iouMax = controls.querySelector("[data-dr-iou-max]");
    var count = controls.querySelector(".dr-count");
    var cards = Array.prototype.slice.call(gallery.querySelectorAll(".dr-card"));

    var state = readHash();
    if (state.sort && comparators[state.sort]) sort.value = state.sort;
    if (state.concept) {
      var known = Array.prototype.some.call(filter.options, function (o) {
        return o.value === state.concept;
      });
      if (known) filter.value = state.concept;
    }
    if (state.interpretable === "1") interp.checked = true;
    if (iouMin && state.iou_min) iouMin.value = state.iou_min;
    if (iouMax && state.iou_max) iouMax.value = state.iou_max;

    function bound(input, fallback) {
      var v = input ? parseFloat(input.value) : NaN;
      return isNaN(v) ? fallback : v;
    }

    function apply() {
      var key = sort.value, want = filter.value, only = interp.checked, shown = 0;
      var lo = bound(iouMin, -Infinity), hi = bound(iouMax, Infinity);
      cards.sort(comparators[key] || comparators.iou);
      var frag = document.createDocumentFragment();
      cards.forEach(function (card) {
        var iou = parseFloat(card.dataset.iou);
        var visible = (!want || card.dataset.concept === want) &&
          (!only || !card.classList.contains("dr-dim")) && iou >= lo && iou <= hi;
        card.hidden = !visible;
        if (visible) shown++;
        frag.appendChild(card);
      });
      gallery.appendChild(frag);
      count.textContent = shown + " of " + cards.length + " units";
      writeHash({ sort: key === "iou" ? "" : key, concept: want, interpretable: only ? "1" : "",
                  iou_min: iouMin ? iouMin.value : "", iou_max: iouMax ? iouMax.value : "" });
    }
    if (iouMin) iouMin.addEventListener("input", apply);
    if (iouMax) iouMax.addEventListener("input", apply);
    sort.addEventListener("change", apply);
    filter.addEventListener("change", apply);
    interp.addEventListener("change", apply);
    apply();
  }

  function setupZoom() {
    var box = null;
    function close() {
      if (box) { box.remove(); box = null; }
    }
    document.addEventListener("click", function (ev) {
      var link = ev.target.closest ? ev.target.closest("[data-dr-zoom]") : null;
      if (box && (!link || box.contains(ev.target))) { close(); ev.preventDefault(); return; }
      if (!link) return;
      ev.preventDefault();
      box = document.createElement("div");
      box.className = "dr-lightbox";
      box.setAttribute("role", "dialog");
      box.setAttribute("aria-label", "enlarged image (click or press Escape to close)");
      if (link.hasAttribute("data-dr-crop")) {
        // A band: the same crop of the unit's grid, as large as the window allows.
        var crop = link.cloneNode(true);
        crop.removeAttribute("href");
        var aspect = link.offsetWidth / Math.max(1, link.offsetHeight);
        var w = Math.min(window.innerWidth * 0.96, window.innerHeight * 0.96 * aspect);
        crop.style.width = Math.floor(w) + "px";
        // Per-band files: the page shows them at display size; the zoom loads the full size.
        Array.prototype.forEach.call(crop.querySelectorAll("img[data-dr-full]"), function (im) {
          im.src = im.getAttribute("data-dr-full");
        });
        box.appendChild(crop);
      } else {
        var img = document.createElement("img");
        img.src = link.getAttribute("href");
        img.alt = "enlarged image (click or press Escape to close)";
        box.appendChild(img);
      }
      document.body.appendChild(box);
    });
    document.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape") close();
    });
  }

  function setupKeys() {
    // n / p step through unit (and sample) pages, like the pager's rel=next / rel=prev links.
    document.addEventListener("keydown", function (ev) {
      if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.defaultPrevented) return;
      var t = ev.target;
      if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
      var rel = ev.key === "n" ? "next" : ev.key === "p" ? "prev" : "";
      if (!rel) return;
      var link = document.querySelector(".dr-pager a[rel=" + rel + "]");
      if (link) { ev.preventDefault(); location.href = link.href; }
    });
  }

  function init() {
    var gallery = document.querySelector("[data-dr-gallery]");
    if (gallery) setupGallery(gallery);
    setupZoom();
    setupKeys();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
