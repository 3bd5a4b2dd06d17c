// Box office waiting room: the queue view. Plain JavaScript, no dependencies.
// boxofficeQueue.admit() resolves once this buyer may choose seats (at once
// when the showtime has no waiting room). Until then it shows the buyer's
// place, the people ahead, an estimated wait and the seats left, live from
// the room summaries of a room-only event stream (one shared frame a second
// per pod, however many wait). The place itself lives in the shard; the
// queue cookie names it, so a reload or another server keeps it.
"use strict";
window.boxofficeQueue = (function () {
  const $ = (id) => document.getElementById(id);
  let me = null;         // the place as last answered by POST /api/room
  let first = null;      // {ahead, wait} when the place was first seen waiting
  let room = null;       // the latest room summary
  let es = null;
  let done = null;       // resolves admit()
  let rejoining = false;
  let spoken = { at: 0, band: -1 };
  let lastTouch = 0;
  let answeredAt = 0;    // when me was answered
  let renderLater = null;
  let opensTimer = null; // ticks the countdown to the sale while pre-queued

  const sleep = (ms) => new Promise((res) => setTimeout(res, ms));
  const fmt = (n) => Number(n).toLocaleString();

  // post sends "I am here" (POST /api/room) or "I leave" (DELETE), retrying
  // with backoff (1 s doubling to 30 s, jittered) while the box office is busy.
  async function call(method) {
    for (let delay = 1000; ; delay = Math.min(delay * 2, 30000)) {
      let r = null;
      try {
        r = await fetch("/api/room", { method, credentials: "same-origin",
          headers: { "Content-Type": "application/json" }, body: method === "POST" ? "{}" : undefined });
      } catch (e) { r = null; }
      if (r && r.status !== 503 && r.status !== 429 && r.status < 500) {
        let data = null;
        try { data = await r.json(); } catch (e) { /* empty */ }
        return { status: r.status, data: data || {} };
      }
      status("Waiting for the box office…");
      await sleep(delay / 2 + Math.random() * delay / 2);
    }
  }

  function status(text) { $("q-note").textContent = text; }

  // speak updates the screen reader's status region: at most every 30 s,
  // unless the place crosses 1,000, 100 or 10, or force.
  function speak(text, place, force) {
    const band = place > 1000 ? 3 : place > 100 ? 2 : place > 10 ? 1 : 0;
    const now = Date.now();
    if (!force && band === spoken.band && now - spoken.at < 30000) return;
    spoken = { at: now, band };
    $("q-live").textContent = text;
  }

  function duration(sec) {
    if (sec < 60) return "less than a minute";
    const min = Math.round(sec / 60);
    if (min < 60) return "about " + min + " minute" + (min === 1 ? "" : "s");
    const h = Math.floor(min / 60), m = min % 60;
    return "about " + h + " hour" + (h === 1 ? "" : "s") + (m ? " " + m + " min" : "");
  }

  // aheadOf is the shard's LineSummary.AheadOf: everyone in earlier buckets,
  // and in this slot's bucket everyone who could be before it (an upper
  // bound). null: the slot is before the head (admitted, or ended).
  function aheadOf(sum, slot) {
    if (!sum || !sum.bucketSize || slot < sum.head) return null;
    const b = Math.floor((slot - sum.bucketStart) / sum.bucketSize);
    const counts = sum.buckets || [];
    let n = 0;
    for (let i = 0; i < b && i < counts.length; i++) n += counts[i];
    if (b < counts.length) n += Math.min(slot - Math.max(sum.bucketStart + b * sum.bucketSize, sum.head), counts[b] - 1);
    return Math.max(n, 0);
  }

  // localTime is the sale's opening in the buyer's own time zone and
  // language, with the zone's name so that nobody has to convert.
  function localTime(at) {
    return at.toLocaleString(undefined, { weekday: "long", day: "numeric", month: "long",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short" });
  }

  // countdown: "2 days 3 h", "1 h 05 min", "4 min 09 s", "9 s".
  function countdown(ms) {
    const s = Math.max(Math.ceil(ms / 1000), 0);
    const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), sec = s % 60;
    const two = (n) => String(n).padStart(2, "0");
    if (d > 0) return d + " day" + (d === 1 ? "" : "s") + " " + h + " h";
    if (h > 0) return h + " h " + two(m) + " min";
    if (m > 0) return m + " min " + two(sec) + " s";
    return sec + " s";
  }

  // showOpens shows when the sale opens (iso, from the room summary) and
  // counts down to it, while this place is pre-queued; null hides it. The
  // countdown is not spoken (aria-live off); the status region says the
  // time when the pre-queue is announced.
  function showOpens(iso) {
    const el = $("q-opens");
    if (!iso || !me || me.state !== "pre_queued") {
      el.hidden = true;
      clearInterval(opensTimer);
      opensTimer = null;
      return;
    }
    const at = new Date(iso);
    const t = $("q-opens-at");
    if (t.getAttribute("datetime") !== iso) {
      t.setAttribute("datetime", iso);
      t.textContent = localTime(at);
    }
    el.hidden = false;
    const tick = () => {
      const left = at - Date.now();
      $("q-countdown").textContent = left > 0 ? countdown(left) : "a moment: the places are being drawn";
    };
    tick();
    if (!opensTimer) opensTimer = setInterval(tick, 1000);
  }

  function render() {
    if (!me || (me.state !== "waiting" && me.state !== "pre_queued") || document.body.dataset.queue === "left") return;
    const q = $("queue");
    document.body.dataset.queue = room && room.soldOut ? "sold_out" : me.state;
    if (room) $("q-seats").textContent = fmt(room.free);
    if (me.state === "pre_queued") {
      $("q-heading").textContent = "You are in the pre-queue";
      $("q-place").textContent = "drawn when the sale opens";
      $("q-ahead").textContent = "—";
      $("q-wait").textContent = duration(me.waitSeconds || 0) + " after the sale opens";
      const others = Math.max((room ? room.preQueued : me.preQueue) - 1, 0);
      showOpens(room && room.opensAt);
      status("You are in the pre-queue with " + fmt(others) + " other" + (others === 1 ? "" : "s") +
        ". When the sale opens, everyone here gets a random place in line, so there is no need to refresh.");
      const when = room && room.opensAt ? " The sale opens " + localTime(new Date(room.opensAt)) + "." : "";
      speak("You are in the pre-queue with " + fmt(others) + " others. Places are drawn when the sale opens." + when, 0, false);
      return;
    }
    showOpens(null);
    // A summary read just after the place was answered may predate it (it
    // travels through the shard's one-second tick and this pod) and would
    // miscount this place's own bucket; the answer is exact, so it wins
    // until summaries certainly follow it.
    const young = 2500 - (Date.now() - answeredAt);
    if (young > 0 && !renderLater) renderLater = setTimeout(() => { renderLater = null; render(); }, young + 10);
    let ahead = young <= 0 ? aheadOf(room, me.slot) : null;
    if (ahead === null || ahead > me.ahead) ahead = me.ahead;
    if (!first) first = { ahead: me.ahead, wait: me.waitSeconds || 0 };
    const place = ahead + 1;
    const measured = room && room.rate > 0;
    const wait = measured ? (ahead + 1) / room.rate : first.wait * (ahead + 1) / (first.ahead + 1);
    $("q-heading").textContent = "You are in line";
    $("q-place").textContent = fmt(place);
    $("q-ahead").textContent = ahead === 0 ? "nobody: you are next" : fmt(ahead);
    const waitText = ahead === 0 && wait < 60 ? "any moment now" : duration(wait);
    $("q-wait").textContent = waitText + (measured ? "" : " (measuring the pace)");
    $("q-progress").value = first.ahead > 0 ? Math.round(100 * (first.ahead - ahead) / first.ahead) : 100;
    $("q-progress").setAttribute("aria-valuetext", "place " + fmt(place));
    if (room && room.seatsMayReturn) {
      status("Every seat is held by someone choosing right now. Seats may come back when holds end; keep your place.");
    } else {
      status("Keep this page open: it moves on to the seat map by itself when it is your turn. Reloading keeps your place.");
    }
    speak("Place " + fmt(place) + " in line, " + fmt(ahead) + " ahead, estimated wait " + waitText + ".", place, false);
    q.dataset.place = String(place);
  }

  function soldOut() {
    if (es) { es.close(); es = null; }
    showOpens(null);
    document.body.dataset.queue = "sold_out";
    $("q-heading").textContent = "Sold out";
    $("q-facts").hidden = true;
    $("q-progress").hidden = true;
    $("q-leave").hidden = true;
    status("Sold out. Every seat is sold.");
    speak("Sold out. Every seat is sold.", 0, true);
  }

  function connect() {
    if (es) es.close();
    es = new EventSource("/api/room/events");
    es.addEventListener("open", () => { $("conn").textContent = "Live"; $("conn").classList.remove("bad"); });
    es.addEventListener("room", (ev) => {
      room = JSON.parse(ev.data);
      if (room.soldOut) { soldOut(); return; }
      if (!room.configured) { switchedOff(); return; }
      // The sale opened (places drawn), or the head passed this slot: ask.
      if ((me.state === "pre_queued" && room.open) || (me.state === "waiting" && room.head > me.slot)) {
        rejoin(me.state === "pre_queued" ? 3000 : 500);
      }
      render();
    });
    es.addEventListener("error", () => {
      $("conn").textContent = "Reconnecting…";
      $("conn").classList.add("bad");
      if (es.readyState === EventSource.CLOSED) setTimeout(connect, 2000 + Math.random() * 3000);
    });
  }

  // switchedOff: the showtime's waiting room was switched off, so everyone
  // may choose seats. The page says so and asks POST /api/room (after a
  // random pause, so that the whole line does not ask at once), which
  // answers {"enabled":false}: the seat map follows.
  function switchedOff() {
    if (es) { es.close(); es = null; }
    showOpens(null);
    $("q-heading").textContent = "The waiting room is closed";
    status("The waiting room was switched off: everyone may choose seats now. Opening the seat map…");
    speak("The waiting room was switched off. Opening the seat map.", 0, true);
    rejoin(2000);
  }

  // rejoin asks for the place again after a random pause (spread, so that a
  // crowd does not ask at the same instant).
  async function rejoin(spread) {
    if (rejoining) return;
    rejoining = true;
    await sleep(Math.random() * spread);
    try { await settle(await call("POST")); } finally { rejoining = false; }
  }

  // settle acts on an answer of POST /api/room.
  function settle(r) {
    if (r.status === 410) { soldOut(); return; }
    if (r.status === 403) {
      status(r.data.message ? r.data.message + ". Trying again shortly." : "The line is not open yet.");
      setTimeout(() => rejoin(0), 30000);
      return;
    }
    if (r.status !== 200) { status(r.data.message || "Something went wrong; retrying."); setTimeout(() => rejoin(5000), 5000); return; }
    me = r.data;
    answeredAt = Date.now();
    if (me.room) room = me.room;
    if (!me.enabled) me.roomOff = true; // it was on when this page started waiting
    if (!me.enabled || me.state === "admitted") { finish(); return; }
    render();
  }

  function finish() {
    if (es) { es.close(); es = null; }
    showOpens(null);
    $("queue").hidden = true;
    $("q-live").textContent = "";
    document.body.dataset.queue = me.enabled ? "admitted" : "off";
    const d = done;
    done = null;
    if (d) d(me);
  }

  async function leave() {
    $("q-leave").disabled = true;
    await call("DELETE");
    if (es) { es.close(); es = null; }
    showOpens(null);
    document.body.dataset.queue = "left";
    $("q-heading").textContent = "You left the line";
    $("q-facts").hidden = true;
    $("q-progress").hidden = true;
    status("You left the line. Reload the page to join again, at the back.");
    speak("You left the line.", 0, true);
  }

  // admit resolves with the place answer ({enabled:false} without a room)
  // once the buyer may choose seats. showHeader names the show meanwhile.
  async function admit(showHeader) {
    $("q-leave").addEventListener("click", leave);
    const r = await call("POST");
    if (r.status === 200 && (!r.data.enabled || r.data.state === "admitted")) {
      me = r.data;
      document.body.dataset.queue = me.enabled ? "admitted" : "off";
      return me;
    }
    if (r.data.show) showHeader(r.data.show);
    $("queue").hidden = false;
    $("layout").hidden = true;
    const p = new Promise((res) => { done = res; });
    settle(r);
    if (done) connect();
    const answer = await p;
    $("layout").hidden = false;
    return answer;
  }

  // touch tells the room an admitted buyer is still choosing (at most every
  // 20 s), so their turn does not idle out while they look at the map.
  function touch() {
    const now = Date.now();
    if (!me || !me.enabled || now - lastTouch < 20000) return;
    lastTouch = now;
    fetch("/api/room", { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" }, body: "{}" })
      .catch(() => { /* the next touch tries again */ });
  }

  return { admit, touch, leaveRoom: () => call("DELETE"), place: () => me, room: () => room };
})();
