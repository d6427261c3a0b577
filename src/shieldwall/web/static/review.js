// shieldwall review pages: reveal and re-blur media, keyboard shortcuts.
//
// Loaded as a file (the Content-Security-Policy forbids inline scripts). Everything here is an
// enhancement: without JavaScript the reveal link opens a page that shows the one item, and the
// decision form posts as a plain form.
//
// Media start as the server's blurred, grayscale preview; the original is fetched only when a
// reviewer reveals an item, through a route that writes a `media.revealed` event and answers
// with Cache-Control: no-store. Each reveal asks for a fresh URL, so every showing is fetched
// (and logged) again rather than served from memory. Leaving the item, the tab or the page
// puts the preview back and drops the original from the page.
(function () {
  "use strict";

  var NON_TEXT_INPUTS = [
    "button", "checkbox", "color", "file", "hidden", "image", "radio", "range", "reset", "submit",
  ];

  function isTyping(target) {
    if (!(target instanceof Element)) {
      return false;
    }
    if (target.isContentEditable) {
      return true;
    }
    var tag = target.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") {
      return true;
    }
    if (tag === "INPUT") {
      return NON_TEXT_INPUTS.indexOf((target.getAttribute("type") || "text").toLowerCase()) < 0;
    }
    return false;
  }

  var announcer = document.querySelector("[data-role=announce]");
  function announce(text) {
    if (announcer) {
      announcer.textContent = text;
    }
  }

  // ---- media items ---------------------------------------------------------------------

  var items = Array.prototype.slice.call(document.querySelectorAll("[data-media-item]"));
  var current = -1;
  var revealCount = 0;

  function control(item, action) {
    return item.querySelector("[data-action=" + action + "]");
  }

  function dropOriginal(item) {
    var originals = item.querySelectorAll(".original");
    Array.prototype.forEach.call(originals, function (el) {
      if (el.tagName === "VIDEO") {
        el.pause();
        el.removeAttribute("src");
        el.load(); // releases the decoder's buffered frames
      } else {
        el.removeAttribute("src");
      }
      el.remove();
    });
  }

  function setState(item, state) {
    item.setAttribute("data-state", state);
    var badge = item.querySelector("[data-role=badge]");
    if (badge) {
      badge.textContent = state === "revealed" ? "revealed" : "blurred";
    }
    var reveal = control(item, "reveal");
    var reblur = control(item, "reblur");
    var colour = control(item, "colour");
    if (reveal) {
      reveal.hidden = state === "revealed";
    }
    if (reblur) {
      reblur.hidden = state !== "revealed";
    }
    if (colour) {
      colour.hidden = state !== "revealed" || !item.classList.contains("gray");
      colour.setAttribute("aria-pressed", item.classList.contains("colour") ? "true" : "false");
    }
  }

  function blurItem(item) {
    if (item.getAttribute("data-state") !== "revealed") {
      return;
    }
    dropOriginal(item);
    item.classList.remove("colour");
    setState(item, "blurred");
  }

  function blurAll() {
    items.forEach(blurItem);
  }

  function revealItem(item) {
    if (item.getAttribute("data-state") === "revealed") {
      return;
    }
    items.forEach(function (other) {
      if (other !== item) {
        blurItem(other); // one item at a time
      }
    });
    var url = item.getAttribute("data-original-url");
    if (!url) {
      return;
    }
    revealCount += 1;
    url += (url.indexOf("?") < 0 ? "?" : "&") + "n=" + Date.now().toString(36) + revealCount;
    var frame = item.querySelector(".media-frame");
    var label = item.getAttribute("data-label") || "media item";
    var el;
    if (item.getAttribute("data-kind") === "video") {
      el = document.createElement("video");
      el.controls = true;
      el.preload = "metadata";
      el.setAttribute("playsinline", "");
      var muted = item.getAttribute("data-muted") !== "false";
      el.defaultMuted = muted;
      el.muted = muted;
      if (muted) {
        el.setAttribute("muted", "");
      }
      el.setAttribute("aria-label", label + " (original)");
    } else {
      el = document.createElement("img");
      el.alt = label + " (original)";
      el.decoding = "async";
    }
    el.className = "original";
    el.setAttribute("data-testid", "original");
    el.src = url;
    frame.appendChild(el);
    setState(item, "revealed");
    announce(label + " revealed. Press r to blur it again.");
  }

  function toggleItem(item) {
    if (item.getAttribute("data-state") === "revealed") {
      blurItem(item);
      announce((item.getAttribute("data-label") || "Media item") + " blurred.");
    } else {
      revealItem(item);
    }
  }

  function focusItem(index) {
    if (!items.length) {
      return;
    }
    index = Math.max(0, Math.min(items.length - 1, index));
    if (current >= 0 && current !== index) {
      blurItem(items[current]); // leaving an item blurs it
      items[current].classList.remove("is-current");
    }
    current = index;
    var item = items[current];
    item.classList.add("is-current");
    item.focus();
    item.scrollIntoView({ block: "nearest" });
  }

  function currentItem() {
    if (current < 0 && items.length) {
      focusItem(0);
    }
    return current >= 0 ? items[current] : null;
  }

  items.forEach(function (item, index) {
    var reveal = control(item, "reveal");
    if (reveal) {
      reveal.addEventListener("click", function (ev) {
        ev.preventDefault(); // the link is the no-script path; here the item reveals in place
        if (current !== index) {
          focusItem(index);
        }
        revealItem(item);
      });
    }
    var reblur = control(item, "reblur");
    if (reblur) {
      reblur.addEventListener("click", function () {
        blurItem(item);
        var link = control(item, "reveal");
        if (link) {
          link.focus();
        }
      });
    }
    var colour = control(item, "colour");
    if (colour) {
      colour.addEventListener("click", function () {
        item.classList.toggle("colour");
        setState(item, item.getAttribute("data-state"));
      });
    }
    item.addEventListener("focusin", function () {
      if (current !== index) {
        if (current >= 0) {
          blurItem(items[current]);
          items[current].classList.remove("is-current");
        }
        current = index;
        item.classList.add("is-current");
      }
    });
    // Revealed by the server (the reviewer turned default blurring off): wire it up as revealed.
    if (item.getAttribute("data-state") === "revealed") {
      setState(item, "revealed");
    }
  });

  // Leaving the page or the tab: everything goes back to the blurred preview.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      blurAll();
    }
  });
  window.addEventListener("pagehide", blurAll);
  window.addEventListener("beforeunload", blurAll);

  // ---- the decision form -----------------------------------------------------------------

  var form = document.querySelector("form[data-role=decision]");

  function choose(outcome, focusSelector) {
    if (!form) {
      return false;
    }
    var radio = form.querySelector("input[name=outcome][value=" + outcome + "]");
    if (!radio) {
      return false;
    }
    radio.checked = true;
    radio.dispatchEvent(new Event("change", { bubbles: true }));
    var target = form.querySelector(focusSelector) || radio;
    target.focus();
    target.scrollIntoView({ block: "nearest" });
    announce(radio.getAttribute("data-announce") || outcome);
    return true;
  }

  if (form) {
    var labelSelect = form.querySelector("select[name=label]");
    var syncLabel = function () {
      var chosen = form.querySelector("input[name=outcome]:checked");
      if (labelSelect) {
        labelSelect.required = !!chosen && chosen.value === "violating";
      }
    };
    form.addEventListener("change", syncLabel);
    syncLabel();
  }

  // ---- the queue -------------------------------------------------------------------------

  var rows = Array.prototype.slice.call(document.querySelectorAll("[data-queue-row]"));
  var currentRow = -1;

  function focusRow(index) {
    if (!rows.length) {
      return;
    }
    index = Math.max(0, Math.min(rows.length - 1, index));
    if (currentRow >= 0) {
      rows[currentRow].classList.remove("is-current");
    }
    currentRow = index;
    var row = rows[currentRow];
    row.classList.add("is-current");
    var link = row.querySelector("a[data-role=open]");
    if (link) {
      link.focus();
    }
  }

  // ---- shortcuts -------------------------------------------------------------------------

  var help = document.querySelector("details[data-role=shortcuts]");

  var keys = {
    j: function () {
      if (items.length) {
        focusItem(current + 1);
        return true;
      }
      if (rows.length) {
        focusRow(currentRow + 1);
        return true;
      }
      return false;
    },
    k: function () {
      if (items.length) {
        focusItem(current < 0 ? 0 : current - 1);
        return true;
      }
      if (rows.length) {
        focusRow(currentRow < 0 ? 0 : currentRow - 1);
        return true;
      }
      return false;
    },
    r: function () {
      var item = currentItem();
      if (!item) {
        return false;
      }
      toggleItem(item);
      return true;
    },
    v: function () {
      return choose("violating", "select[name=label]");
    },
    n: function () {
      return choose("not_violating", "button[type=submit]");
    },
    e: function () {
      return choose("escalate", "textarea[name=note]");
    },
    "?": function () {
      if (!help) {
        return false;
      }
      help.open = !help.open;
      return true;
    },
  };

  document.addEventListener("keydown", function (ev) {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey || ev.repeat) {
      return;
    }
    if (isTyping(ev.target)) {
      return; // never while someone types in a field
    }
    var handler = Object.prototype.hasOwnProperty.call(keys, ev.key) ? keys[ev.key] : null;
    if (handler && handler()) {
      ev.preventDefault();
    }
  });
})();
