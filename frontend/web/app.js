// Box office seat-map page. Plain JavaScript, no dependencies.
// The map is built once; live updates touch only the seats that changed.
"use strict";
(function () {
  const STATE_TEXT = { free: "free", held: "held", awaiting_payment: "awaiting payment", sold: "sold" };
  const seats = [];          // index -> {id, el, state, label, row, pos}
  const byId = new Map();    // id -> seat
  const rows = [];           // row -> [seat index]
  const selected = new Set();
  let hold = null;           // current hold of this buyer
  let mineIds = new Set();   // seat ids in this buyer's hold
  let version = 0;
  let es = null;
  let focusIdx = 0;
  let demoPayments = false;
  let countdownTimer = null;
  let inRoom = false;        // admitted through the waiting room

  const $ = (id) => document.getElementById(id);
  const msg = (text) => { $("msg").textContent = text; };

  function newKey() {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }

  // api sends one buyer action. The same Idempotency-Key is reused while the
  // request is retried, so a retry never holds or pays twice.
  async function api(method, path, body) {
    const key = newKey();
    for (let attempt = 0; ; attempt++) {
      let r;
      try {
        r = await fetch(path, {
          method, credentials: "same-origin",
          headers: body !== undefined ? { "Content-Type": "application/json", "Idempotency-Key": key } : { "Idempotency-Key": key },
          body: body !== undefined ? JSON.stringify(body) : undefined,
        });
      } catch (e) {
        r = null;
      }
      if (r && r.status !== 503 && r.status !== 429) {
        let data = null;
        try { data = await r.json(); } catch (e) { /* empty */ }
        return { status: r.status, data };
      }
      if (attempt >= 5) {
        let data = null;
        try { data = r ? await r.json() : null; } catch (e) { /* empty */ }
        return { status: r ? r.status : 0, data: (data && data.message) ? data : { message: "The box office is busy; please try again." } };
      }
      msg("Still working on it…");
      await new Promise((res) => setTimeout(res, 500 * (attempt + 1)));
    }
  }

  function seatClass(s) {
    let c = "seat s-" + (selected.has(s.idx) ? "selected" : s.state);
    if (mineIds.has(s.id)) c += " mine";
    return c;
  }

  function seatText(s) {
    if (selected.has(s.idx)) return "selected";
    if (mineIds.has(s.id)) return s.state === "sold" ? "bought by you" : "held by you";
    return STATE_TEXT[s.state] || s.state;
  }

  function paint(s) {
    const cls = seatClass(s);
    if (s.el.className !== cls) s.el.className = cls;
    s.el.setAttribute("aria-label", s.label + ", " + seatText(s));
    s.el.setAttribute("aria-pressed", selected.has(s.idx) ? "true" : "false");
    s.el.setAttribute("aria-disabled", s.state === "free" ? "false" : "true");
  }

  function rowName(text, side) {
    const rn = document.createElement("span");
    rn.className = "rowname " + side;
    rn.setAttribute("aria-hidden", "true");
    rn.textContent = text;
    return rn;
  }

  function build(sections, states) {
    const map = $("map");
    const hall = document.createElement("div");
    hall.id = "hall";
    const stage = document.createElement("div");
    stage.className = "stage";
    stage.textContent = "Stage";
    hall.appendChild(stage);
    const stateOf = new Map(states.map((x) => [x.id, x.state]));
    for (const sec of sections) {
      const se = document.createElement("section");
      se.className = "sec";
      const h = document.createElement("h3");
      h.textContent = sec.name;
      h.id = "sec-" + sec.name;
      se.setAttribute("aria-labelledby", h.id);
      se.appendChild(h);
      for (const row of sec.rows) {
        const re = document.createElement("div");
        re.className = "row";
        re.setAttribute("role", "group");
        re.setAttribute("aria-label", sec.name + " row " + row.name);
        re.appendChild(rowName(row.name, "left"));
        const rowIdx = rows.length;
        const list = [];
        row.seats.forEach((n, pos) => {
          const id = sec.name + "/" + row.name + "/" + n;
          const b = document.createElement("button");
          b.type = "button";
          b.tabIndex = -1;
          b.textContent = n;
          b.dataset.id = id;
          const s = { idx: seats.length, id, el: b, state: stateOf.get(id) || "free",
            label: sec.name + " row " + row.name + " seat " + n, row: rowIdx, pos };
          b.dataset.i = s.idx;
          seats.push(s);
          byId.set(id, s);
          list.push(s.idx);
          paint(s);
          re.appendChild(b);
        });
        re.appendChild(rowName(row.name, "right"));
        rows.push(list);
        se.appendChild(re);
      }
      hall.appendChild(se);
    }
    map.replaceChildren(hall);
    if (seats.length) seats[0].el.tabIndex = 0;
    map.addEventListener("click", onSeatClick);
    map.addEventListener("keydown", onKey);
    updateCounts();
  }

  // zoom fits the whole hall into the window (scaled with CSS zoom, so
  // layout, scrolling and hit-testing follow) and zooms in and out from there.
  // Zoomed in, the hall pans inside #map.
  const zoom = (function () {
    const MAX = 2, STEP = 1.5, TAP_BELOW = 0.5, MIN_BOX = 240;
    let hall = null, natural = null, fit = 1, level = 1;
    const map = () => $("map");

    function box() {
      const top = map().getBoundingClientRect().top + window.scrollY;
      return { w: map().clientWidth, h: Math.max(window.innerHeight - top - 12, MIN_BOX) };
    }
    function measure() {
      hall.style.zoom = "1";
      natural = { w: hall.offsetWidth, h: hall.offsetHeight };
    }
    function apply(next, px, py) {
      const m = map();
      const r = m.getBoundingClientRect();
      const ox = px === undefined ? m.clientWidth / 2 : px - r.left;
      const oy = py === undefined ? m.clientHeight / 2 : py - r.top;
      const cx = (m.scrollLeft + ox) / level, cy = (m.scrollTop + oy) / level;
      level = Math.min(MAX, Math.max(fit, next));
      hall.style.zoom = String(level);
      hall.classList.toggle("small", level < 0.75);
      m.scrollLeft = cx * level - ox;
      m.scrollTop = cy * level - oy;
      $("zoom-out").disabled = level <= fit + 1e-6;
      $("zoom-in").disabled = level >= MAX - 1e-6;
      $("zoom-fit").disabled = level <= fit + 1e-6;
      const pct = Math.round(level * 100) + "%";
      $("zoom-level").textContent = level <= fit + 1e-6 ? "Whole hall, " + pct : pct;
      document.body.dataset.zoom = String(level);
    }
    function refit() {
      if (!hall) return;
      const atFit = level <= fit + 1e-6;
      const b = box();
      map().style.maxHeight = b.h + "px";
      // The whole width always fits; the height too, unless that would make
      // seats too small to click: a tall hall then pans up and down.
      fit = Math.min(1, b.w / natural.w);
      if (b.h / natural.h < fit) fit = Math.max(b.h / natural.h, Math.min(fit, TAP_BELOW));
      apply(atFit ? fit : level);
    }
    function setup(h) {
      hall = h;
      measure();
      level = 1;
      refit();
      apply(fit);
      $("zoom-in").addEventListener("click", () => apply(level * STEP));
      $("zoom-out").addEventListener("click", () => apply(level / STEP));
      $("zoom-fit").addEventListener("click", () => apply(fit));
      let pending = false;
      window.addEventListener("resize", () => {
        if (pending) return;
        pending = true;
        requestAnimationFrame(() => { pending = false; refit(); });
      });
    }
    return {
      setup,
      STEP,
      level: () => level,
      to: apply,
      tooSmall: () => hall !== null && level < TAP_BELOW,
      tapLevel: () => Math.max(1, fit),
    };
  })();

  function setFocus(i, move) {
    if (i < 0 || i >= seats.length) return;
    seats[focusIdx].el.tabIndex = -1;
    focusIdx = i;
    seats[i].el.tabIndex = 0;
    if (move) seats[i].el.focus();
  }

  function onKey(ev) {
    const t = ev.target;
    if (zoomKey(ev)) return;
    if (!t.dataset || t.dataset.i === undefined) return;
    const s = seats[+t.dataset.i];
    const row = rows[s.row];
    let next = -1;
    switch (ev.key) {
      case "ArrowRight": next = s.idx + 1; break;
      case "ArrowLeft": next = s.idx - 1; break;
      case "Home": next = row[0]; break;
      case "End": next = row[row.length - 1]; break;
      case "ArrowDown": case "ArrowUp": {
        const r = rows[s.row + (ev.key === "ArrowDown" ? 1 : -1)];
        if (r) next = r[Math.min(s.pos, r.length - 1)];
        break;
      }
      default: return;
    }
    ev.preventDefault();
    setFocus(next, true);
  }

  // zoomKey: + and - zoom around the focused seat, 0 shows the whole hall.
  function zoomKey(ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return false; // the browser's own zoom
    const f = { "+": zoom.STEP, "=": zoom.STEP, "-": 1 / zoom.STEP, "0": 0 }[ev.key];
    if (f === undefined) return false;
    ev.preventDefault();
    const el = document.activeElement;
    const r = el && el.closest && el.closest("#map") ? el.getBoundingClientRect() : null;
    const x = r ? r.left + r.width / 2 : undefined, y = r ? r.top + r.height / 2 : undefined;
    zoom.to(f === 0 ? 0 : zoom.level() * f, x, y);
    if (r) el.scrollIntoView({ block: "nearest", inline: "nearest" });
    return true;
  }

  function onSeatClick(ev) {
    // Seats too small to aim at: a tap or click zooms in around it first
    // (keyboard activation, detail 0, always selects).
    if (ev.detail > 0 && zoom.tooSmall()) {
      zoom.to(zoom.tapLevel(), ev.clientX, ev.clientY);
      return;
    }
    const b = ev.target.closest("button.seat");
    if (!b) return;
    const s = seats[+b.dataset.i];
    setFocus(s.idx, false);
    if (inRoom) window.boxofficeQueue.touch();
    if (selected.has(s.idx)) {
      selected.delete(s.idx);
    } else if (s.state === "free" && !mineIds.has(s.id)) {
      selected.add(s.idx);
    } else {
      msg(s.label + " is " + seatText(s) + ".");
      return;
    }
    paint(s);
    updateSelection();
  }

  function updateSelection() {
    const list = $("sel-list");
    const items = [];
    for (const i of selected) {
      const li = document.createElement("li");
      li.textContent = seats[i].label;
      items.push(li);
    }
    list.replaceChildren(...items);
    $("sel-summary").textContent = selected.size ? selected.size + " seat" + (selected.size > 1 ? "s" : "") + " selected." : "No seats selected.";
    $("hold-btn").disabled = selected.size === 0 || (hold && hold.state === "held");
    $("clear-btn").disabled = selected.size === 0;
  }

  let countsPending = false;
  function updateCounts() {
    if (countsPending) return;
    countsPending = true;
    requestAnimationFrame(() => {
      countsPending = false;
      const c = { free: 0, held: 0, awaiting_payment: 0, sold: 0 };
      for (const s of seats) c[s.state] = (c[s.state] || 0) + 1;
      $("counts").textContent = c.free + " free · " + (c.held + c.awaiting_payment) + " held · " + c.sold + " sold";
    });
  }

  function applyState(id, state) {
    const s = byId.get(id);
    if (!s || s.state === state) return;
    s.state = state;
    if (state !== "free" && selected.has(s.idx)) {
      selected.delete(s.idx);
      msg(s.label + " was just taken by someone else.");
      updateSelection();
    }
    paint(s);
  }

  function connect() {
    if (es) es.close();
    es = new EventSource("/api/events?lastEventId=" + version);
    es.addEventListener("open", () => { $("conn").textContent = "Live"; $("conn").classList.remove("bad"); });
    es.addEventListener("snapshot", (ev) => {
      const d = JSON.parse(ev.data);
      for (const x of d.seats) applyState(x.id, x.state);
      version = d.version;
      updateCounts();
    });
    es.addEventListener("seats", (ev) => {
      const d = JSON.parse(ev.data);
      for (const x of d.changes) applyState(x.id, x.state);
      version = d.version;
      updateCounts();
    });
    es.addEventListener("error", () => {
      $("conn").textContent = "Reconnecting…";
      $("conn").classList.add("bad");
      if (es.readyState === EventSource.CLOSED) setTimeout(connect, 2000);
    });
  }

  function setHold(h) {
    const old = mineIds;
    hold = h;
    mineIds = new Set(h && h.state !== "released" && h.state !== "expired" ? h.seats : []);
    for (const id of new Set([...old, ...mineIds])) { const s = byId.get(id); if (s) paint(s); }
    if (!h || h.state === "released" || h.state === "expired") {
      sessionStorage.removeItem("boxoffice-hold");
      $("hold").hidden = true;
      clearInterval(countdownTimer);
      updateSelection();
      return;
    }
    sessionStorage.setItem("boxoffice-hold", h.id);
    $("hold").hidden = false;
    $("hold-seats").textContent = h.seats.map((id) => (byId.get(id) || { label: id }).label).join("; ");
    const sold = h.state === "sold";
    $("hold-state").textContent = sold ? "Paid. Order " + h.orderId + "." :
      h.state === "awaiting_payment" ? "Waiting for your payment." : "Held for you.";
    $("pay-btn").hidden = sold;
    $("release-btn").hidden = sold;
    $("pay-btn").textContent = demoPayments ? "Pay (demo)" : "Pay";
    clearInterval(countdownTimer);
    if (sold) { $("countdown").textContent = ""; } else { tick(); countdownTimer = setInterval(tick, 1000); }
    updateSelection();
  }

  function tick() {
    if (!hold) return;
    const left = Math.max(0, Math.round((Date.parse(hold.expiresAt) - Date.now()) / 1000));
    const el = $("countdown");
    el.textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0") + " left";
    el.classList.toggle("low", left < 60);
    if (left === 60) msg("One minute left on your hold.");
    if (hold.state === "awaiting_payment" && left > 0 && left % 5 === 0) paymentOutcome(hold.id);
    if (left === 0) {
      const h = hold;
      setHold(null);
      if (h.state === "awaiting_payment") { paymentOutcome(h.id); } else { msg("Your hold expired; the seats are free again."); }
    }
  }

  // paymentOutcome tells a buyer who went to pay what became of it: the
  // shard's hold state is the truth (sold, or expired before the payment
  // service confirmed it, in which case any charge is refunded).
  async function paymentOutcome(id) {
    const r = await api("GET", "/api/holds/" + encodeURIComponent(id));
    const h = r.status === 200 ? r.data : null;
    if (h && h.state === "sold") { setHold(h); msg("Paid. Order " + h.orderId + ". Enjoy the show!"); return; }
    if (h && h.state === "awaiting_payment") { setHold(h); return; }
    sessionStorage.removeItem("boxoffice-paying");
    if (hold && hold.id === id) setHold(null);
    $("notice").hidden = false;
    $("notice").textContent = "Your payment was not confirmed before your seats' payment window closed, so the seats were released. " +
      "If you were charged, the payment is refunded to you; nothing else is needed from you.";
    msg($("notice").textContent);
  }

  async function doHold() {
    const ids = [...selected].map((i) => seats[i].id);
    if (!ids.length) return;
    $("hold-btn").disabled = true;
    msg("Holding " + ids.length + " seats…");
    const r = await api("POST", "/api/holds", { seats: ids });
    if (r.status === 201 || r.status === 200) {
      for (const i of [...selected]) { selected.delete(i); }
      setHold(r.data);
      for (const id of ids) paint(byId.get(id));
      msg("Held " + ids.length + " seats. Pay before the timer runs out.");
      $("pay-btn").focus();
    } else {
      const d = r.data || {};
      if (d.error === "seats_unavailable" && d.seats) {
        for (const id of d.seats) { const s = byId.get(id); if (s) { selected.delete(s.idx); paint(s); } }
        msg("Some seats were just taken: " + d.seats.join(", ") + ". Nothing was held.");
      } else if (d.error === "admission_required" || d.error === "admission_ended") {
        msg((d.message || "Your turn has ended.") + " Reload the page to join the line.");
      } else {
        msg(d.message || "Could not hold the seats.");
      }
    }
    updateSelection();
  }

  async function doPay() {
    if (!hold) return;
    msg("Paying…");
    const r = await api("POST", "/api/holds/" + encodeURIComponent(hold.id) + "/pay", {});
    if (r.status === 200) {
      setHold(r.data);
      msg("Paid. Enjoy the show!");
    } else if (r.status === 202) {
      setHold(r.data.hold);
      sessionStorage.setItem("boxoffice-paying", hold.id);
      if (r.data.paymentUrl) { window.location.assign(r.data.paymentUrl); } else { msg("Waiting for the payment service."); }
    } else {
      msg((r.data && r.data.message) || "Payment failed.");
      if (r.data && (r.data.error === "hold_expired" || r.data.error === "hold_not_found")) setHold(null);
    }
  }

  async function doRelease() {
    if (!hold) return;
    const r = await api("DELETE", "/api/holds/" + encodeURIComponent(hold.id));
    if (r.status === 200) { setHold(null); msg("Released. The seats are free again."); }
    else msg((r.data && r.data.message) || "Could not release.");
  }

  // doLeaveRoom ends this buyer's turn (their held seats stay held until
  // paid, released or expired) so that the next in line is admitted.
  async function doLeaveRoom() {
    $("room-leave").disabled = true;
    await window.boxofficeQueue.leaveRoom();
    msg("You let the next buyer in. Your hold, if any, stays yours until it ends.");
  }

  // showHeader names the show: title, date and time in the venue's time zone
  // (as printed on the ticket), venue.
  function showHeader(show, showtime) {
    const title = show.title || showtime;
    document.title = title + " · Box office";
    $("title").textContent = title;
    const t = $("starts");
    if (show.startsAt) {
      const at = new Date(show.startsAt);
      const opts = { weekday: "short", day: "numeric", month: "long", year: "numeric", hour: "numeric", minute: "2-digit", timeZoneName: "short" };
      let text;
      try { text = new Intl.DateTimeFormat(undefined, { ...opts, timeZone: show.timeZone || "UTC" }).format(at); }
      catch (e) { text = new Intl.DateTimeFormat(undefined, { ...opts, timeZone: "UTC" }).format(at); }
      t.dateTime = show.startsAt;
      t.textContent = text;
    }
    $("venue").textContent = show.venue || "";
    $("venue-sep").hidden = !(show.startsAt && show.venue);
  }

  async function init() {
    $("hold-btn").addEventListener("click", doHold);
    $("clear-btn").addEventListener("click", () => {
      const was = [...selected]; selected.clear(); for (const i of was) paint(seats[i]); updateSelection();
    });
    $("pay-btn").addEventListener("click", doPay);
    $("release-btn").addEventListener("click", doRelease);
    // The waiting room: when the showtime has one, wait for this buyer's
    // turn first (queue.js); the map is built once admitted.
    const place = await window.boxofficeQueue.admit((show) => showHeader(show, ""));
    inRoom = !!place.enabled;
    if (inRoom) {
      $("room-leave").hidden = false;
      $("room-leave").addEventListener("click", doLeaveRoom);
      msg("It is your turn: choose your seats. You may hold up to " + place.maxSeats + ".");
    } else if (place.roomOff) {
      msg("The waiting room was switched off: everyone may choose seats now.");
    }
    let d;
    for (;;) {
      try {
        const r = await fetch("/api/seats", { credentials: "same-origin" });
        if (r.ok) { d = await r.json(); break; }
      } catch (e) { /* retry */ }
      $("conn").textContent = "Waiting for the box office…";
      await new Promise((res) => setTimeout(res, 1000));
    }
    demoPayments = d.demoPayments;
    showHeader(d.show || {}, d.showtime);
    version = d.version;
    // Marks for measuring the page (the large-map browser test reads them):
    // seatmap-built after the DOM is built, seatmap-painted after the first
    // frame with the map has been rendered.
    performance.mark("seatmap-build-start");
    build(d.sections, d.seats);
    performance.mark("seatmap-built");
    zoom.setup($("hall")); // lays the map out once to measure it
    requestAnimationFrame(() => setTimeout(() => performance.mark("seatmap-painted"), 0));
    document.body.dataset.ready = "true";
    if (inRoom || place.roomOff) $("map-heading").focus();
    connect();
    const saved = sessionStorage.getItem("boxoffice-hold");
    if (saved) {
      const r = await api("GET", "/api/holds/" + encodeURIComponent(saved));
      if (r.status === 200 && r.data.state === "expired" && sessionStorage.getItem("boxoffice-paying") === saved) {
        sessionStorage.removeItem("boxoffice-hold");
        paymentOutcome(saved);
      } else if (r.status === 200) setHold(r.data); else sessionStorage.removeItem("boxoffice-hold");
    }
  }

  init();
})();
