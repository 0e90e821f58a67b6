// The nurses' station: open alerts by bed, live over server-sent events (docs/api/alerts.md).
// All text reaches the DOM through textContent: nothing from the server is parsed as HTML.
//
// Stable hooks for tests: each alert row [data-alert-id][data-state][data-severity] inside a
// section.bed[data-location]; its ack button [data-action="ack"]; #connection[data-connection]
// connecting | live | reconnecting; body[data-loaded="true"] after the first GET /alerts;
// #alerts[data-alert-count]; #sound[data-sound="on|off"][data-cues=<audible cues so far>]
// [data-audio=<AudioContext state>]; #banner (hidden unless there is something to say).
'use strict';

(() => {
  const SEVERITY_RANK = { warning: 1, urgent: 2, critical: 3, emergency: 4 };
  const LOUD = new Set(['critical', 'emergency']);
  const TOKEN_KEY = 'nilecare.accessToken';
  const AGO_EVERY_MS = 5000;
  const RETRY_MAX_MS = 30000;
  const NOTICE_MS = 10000;

  const VITAL_NAMES = {
    spo2: 'SpO₂', heart_rate: 'Heart rate', pulse_rate: 'Pulse rate', respiratory_rate: 'Resp. rate',
    temperature: 'Temperature', systolic_bp: 'Systolic BP', diastolic_bp: 'Diastolic BP',
    mean_bp: 'Mean BP', etco2: 'EtCO₂', news2: 'NEWS2', device: 'Device',
  };

  const el = (id) => document.getElementById(id);
  const ui = {
    connection: el('connection'), sound: el('sound'), banner: el('banner'),
    summary: el('summary'), alerts: el('alerts'), empty: el('empty'),
  };

  // ---- state --------------------------------------------------------------------------------

  const alerts = new Map();       // id → Alert (open and acknowledged only)
  const rowErrors = new Map();    // id → message shown on the row (a failed acknowledgement)
  const acking = new Set();       // ids with an acknowledgement in flight (survives re-renders)
  let source = null;
  let everOpened = false;
  let lostConnection = false;
  let retryDelay = 1000;
  let retryTimer = null;
  let refreshing = null;          // events received while GET /alerts is in flight
  let authFailed = false;
  let mayAcknowledge = true;      // what GET /alerts says this token may do

  // ---- token --------------------------------------------------------------------------------

  // The token arrives once in the URL; keep it for this tab only and take it out of the address
  // bar (and so out of history, bookmarks and over-the-shoulder view).
  function takeToken() {
    const url = new URL(window.location.href);
    const fromURL = url.searchParams.get('access_token');
    if (fromURL) {
      try { sessionStorage.setItem(TOKEN_KEY, fromURL); } catch (_) { /* private mode: keep in memory */ }
      url.searchParams.delete('access_token');
      history.replaceState(history.state, '', url.pathname + url.search + url.hash);
      return fromURL;
    }
    try { return sessionStorage.getItem(TOKEN_KEY); } catch (_) { return null; }
  }
  const token = takeToken();

  // ---- HTTP ---------------------------------------------------------------------------------

  class APIError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(method, path) {
    let response;
    try {
      response = await fetch(path, {
        method,
        headers: { Authorization: 'Bearer ' + token, Accept: 'application/json' },
        cache: 'no-store',
      });
    } catch (error) {
      throw new APIError(0, 'network error: ' + error.message);
    }
    let body = null;
    try { body = await response.json(); } catch (_) { /* not JSON: described below */ }
    if (!response.ok) {
      const reason = body && typeof body.error === 'string' ? body.error : response.statusText;
      throw new APIError(response.status, method + ' ' + path + ' failed (' + response.status + '): ' + reason);
    }
    if (body === null) throw new APIError(response.status, method + ' ' + path + ': the response is not JSON');
    return body;
  }

  // ---- merging alerts -----------------------------------------------------------------------

  // Events and responses can cross: an acknowledgement's answer can arrive after the stream's
  // later events (the alert reopened by a worse condition, acknowledged by another nurse, or
  // resolved). Every change stamps the alert with its time (raised, escalated, acknowledged,
  // resolved), so an older message never overwrites a newer one. Within one instant (one
  // commit), a reopening outranks the acknowledgement it follows: an acknowledgement covers the
  // condition as it was, so it never hides the reopened alert's button.
  function changedAt(alert) {
    let latest = 0;
    for (const time of [alert.raisedAt, alert.escalatedAt, alert.acknowledgedAt, alert.resolvedAt]) {
      const ms = Date.parse(time);
      if (ms > latest) latest = ms;   // an absent time (NaN) never is
    }
    return latest;
  }

  function reopenedSinceAcknowledged(open, acknowledged) {
    return acknowledged.state === 'acknowledged' && open.state === 'open' && !!open.escalatedAt && !!acknowledged.acknowledgedAt
      && Date.parse(open.escalatedAt) >= Date.parse(acknowledged.acknowledgedAt);
  }

  // Resolved is final: a late message does not bring one back. Emptied with each full reload,
  // after which only newer messages arrive.
  const resolvedIDs = new Set();

  function merge(incoming) {
    if (!incoming || typeof incoming.id !== 'number' || resolvedIDs.has(incoming.id)) return;
    const known = alerts.get(incoming.id);
    if (known) {
      const knownAt = changedAt(known), incomingAt = changedAt(incoming);
      if (incomingAt < knownAt || (incomingAt === knownAt && reopenedSinceAcknowledged(known, incoming))) return;
    }
    if (incoming.state === 'resolved') {
      resolvedIDs.add(incoming.id);
      alerts.delete(incoming.id);
      rowErrors.delete(incoming.id);
    } else {
      alerts.set(incoming.id, incoming);
    }
  }

  function onAlertEvent(message) {
    let event;
    try { event = JSON.parse(message.data); } catch (_) { return; }
    if (!event || event.version !== 1 || !event.alert) return;
    if (refreshing) refreshing.push(event.alert);
    const isNew = !alerts.has(event.alert.id);
    merge(event.alert);
    if ((event.type === 'raised' && isNew) || event.type === 'escalated') maybeCue(event.alert);
    render();
  }

  // The full list: at start and after every reconnect (events while disconnected may be gone when
  // the browser could not resume with Last-Event-ID, e.g. after the server restarted).
  // One request at a time, so an older snapshot never lands after a newer one.
  let refreshInFlight = null;
  let refreshAgain = false;
  function refresh() {
    if (refreshInFlight) { refreshAgain = true; return; }
    refreshInFlight = loadSnapshot().finally(() => {
      refreshInFlight = null;
      if (refreshAgain) { refreshAgain = false; refresh(); }
    });
  }

  async function loadSnapshot() {
    const mine = [];
    refreshing = mine;
    try {
      const body = await api('GET', 'alerts');
      const before = new Set(alerts.keys());
      const list = Array.isArray(body.alerts) ? body.alerts : [];
      // A screen whose token may only view (a corridor display) offers no button.
      if (Array.isArray(body.permissions)) mayAcknowledge = body.permissions.includes('acknowledge');
      alerts.clear();
      resolvedIDs.clear();
      for (const alert of list) merge(alert);
      for (const alert of mine) merge(alert);   // newer than the snapshot, or equal
      if (document.body.dataset.loaded === 'true') {
        for (const alert of alerts.values()) if (!before.has(alert.id)) maybeCue(alert);
      }
      document.body.dataset.loaded = 'true';
      if (!lostConnection) hideBanner();
    } catch (error) {
      handleFailure(error);
    } finally {
      refreshing = null;
      render();
    }
  }

  function handleFailure(error) {
    if (error.status === 401) {
      authFailed = true;
      if (source) source.close();
      clearTimeout(retryTimer);
      setConnection('reconnecting', 'Not signed in');
      showBanner('The access token was not accepted. Open this page again with the link from the administrator.');
    } else {
      showBanner(error.message);
    }
  }

  // ---- live stream --------------------------------------------------------------------------

  function connect() {
    if (authFailed) return;
    source = new EventSource('alerts/stream?access_token=' + encodeURIComponent(token));
    source.addEventListener('alert', onAlertEvent);
    source.onopen = () => {
      retryDelay = 1000;
      setConnection('live', 'Live');
      if (lostConnection || !everOpened) {
        lostConnection = false;
        hideBanner();
        refresh();
      }
      everOpened = true;
    };
    source.onerror = () => {
      lostConnection = true;
      setConnection('reconnecting', 'Reconnecting…');
      showBanner('Connection to the alert server lost — reconnecting…');
      // CONNECTING: the browser retries by itself (with Last-Event-ID). CLOSED: it gave up (e.g. an
      // HTTP error status), so start a new stream later and rely on the refresh after it opens.
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        clearTimeout(retryTimer);
        retryTimer = setTimeout(() => { probeThenConnect(); }, retryDelay);
        retryDelay = Math.min(retryDelay * 2, RETRY_MAX_MS);
      }
    };
  }

  // A closed stream does not say why; a plain request does (401 stops retrying).
  async function probeThenConnect() {
    try {
      await api('GET', 'alerts');
    } catch (error) {
      if (error.status === 401) { handleFailure(error); return; }
    }
    connect();
  }

  // ---- sound --------------------------------------------------------------------------------

  let audio = null;
  let soundOn = false;

  // Browsers start audio only after a user gesture, so sound is switched on by a click.
  ui.sound.addEventListener('click', () => {
    const AudioContextClass = window.AudioContext || window.webkitAudioContext;
    if (!AudioContextClass) { ui.sound.textContent = 'Sound not supported'; ui.sound.disabled = true; return; }
    if (!audio) {
      audio = new AudioContextClass();
      audio.onstatechange = () => { ui.sound.dataset.audio = audio.state; };
    }
    soundOn = !soundOn;
    if (soundOn) {
      audio.resume().then(() => beep([660], 0.12));
    }
    showSoundState();
  });

  function showSoundState() {
    ui.sound.dataset.sound = soundOn ? 'on' : 'off';
    ui.sound.setAttribute('aria-pressed', String(soundOn));
    ui.sound.textContent = soundOn ? 'Sound on' : 'Enable sound';
  }

  // Square-wave tones; an emergency is three higher tones, a critical alert two.
  function beep(frequencies, length) {
    if (!audio || audio.state !== 'running') return;
    let at = audio.currentTime + 0.02;
    for (const frequency of frequencies) {
      const oscillator = audio.createOscillator();
      const gain = audio.createGain();
      oscillator.type = 'square';
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.25, at + 0.01);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + length);
      oscillator.connect(gain).connect(audio.destination);
      oscillator.start(at);
      oscillator.stop(at + length + 0.02);
      at += length + 0.08;
    }
  }

  function maybeCue(alert) {
    if (alert.state !== 'open' || !LOUD.has(alert.severity)) return;
    ui.sound.dataset.cues = String(Number(ui.sound.dataset.cues) + 1);
    if (soundOn) {
      beep(alert.severity === 'emergency' ? [1175, 1175, 1175] : [880, 880], 0.18);
    } else {
      ui.sound.classList.add('sound-missed');   // make the muted state hard to overlook
    }
  }

  // ---- rendering ----------------------------------------------------------------------------

  function compareAlerts(a, b) {
    const bySeverity = (SEVERITY_RANK[b.severity] || 0) - (SEVERITY_RANK[a.severity] || 0);
    if (bySeverity !== 0) return bySeverity;
    return (Date.parse(b.raisedAt) || 0) - (Date.parse(a.raisedAt) || 0);
  }

  // HL7 PL: point of care^room^bed (further components are facility details, not shown).
  function locationLabel(location) {
    if (!location) return 'No location';
    const [unit, room, bed] = location.split('^');
    const parts = [];
    if (unit) parts.push(unit);
    if (room) parts.push('Room ' + room);
    if (bed) parts.push('Bed ' + bed);
    return parts.length ? parts.join(' · ') : location;
  }

  function vitalLabel(vital) {
    return VITAL_NAMES[vital] || String(vital || '').replace(/_/g, ' ');
  }

  function valueLabel(alert) {
    if (alert.value === null || alert.value === undefined) return alert.rule === 'technical.silent' ? 'No data' : '—';
    const value = Number.isInteger(alert.value) ? String(alert.value) : String(Math.round(alert.value * 10) / 10);
    return alert.unit ? value + '\u202f' + alert.unit : value;
  }

  function ago(iso, now) {
    const then = Date.parse(iso);
    if (Number.isNaN(then)) return '';
    const seconds = Math.max(0, Math.round((now - then) / 1000));
    if (seconds < 10) return 'just now';
    if (seconds < 60) return seconds + ' s ago';
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + ' min ago';
    const hours = Math.floor(minutes / 60);
    if (hours < 24) return hours + ' h ' + (minutes % 60) + ' min ago';
    return Math.floor(hours / 24) + ' d ago';
  }

  function node(tag, className, text) {
    const element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined && text !== null) element.textContent = String(text);
    return element;
  }

  function timeNode(className, iso, now) {
    const time = node('time', className, ago(iso, now));
    time.dateTime = iso;
    time.dataset.since = iso;
    const date = new Date(iso);
    if (!Number.isNaN(date.getTime())) time.title = date.toLocaleString();
    return time;
  }

  function renderRow(alert, now) {
    const row = node('article', 'alert severity-' + alert.severity + ' state-' + alert.state);
    row.dataset.alertId = String(alert.id);
    row.dataset.state = alert.state;
    row.dataset.severity = alert.severity;

    const badge = node('span', 'badge');
    badge.append(node('span', 'badge-icon'), node('span', 'badge-text', String(alert.severity).toUpperCase()));
    row.append(badge);

    const reading = node('div', 'reading');
    reading.append(node('span', 'vital', vitalLabel(alert.vital)), node('span', 'value', valueLabel(alert)));
    row.append(reading);

    const who = node('div', 'who');
    const patient = alert.patient && alert.patient.id
      ? node('span', 'patient', alert.patient.id)
      : node('span', 'patient patient-none', 'No patient linked');
    who.append(patient, node('span', 'device', 'Device ' + alert.device));
    row.append(who);

    const when = node('div', 'when');
    when.append(timeNode('raised', alert.raisedAt, now));
    if (alert.escalationCount > 0) {
      when.append(node('span', 'escalated', 'Escalated ×' + alert.escalationCount));
    }
    row.append(when);

    const status = node('div', 'status');
    if (alert.state === 'acknowledged') {
      const line = node('span', 'acked');
      line.append(node('span', 'state-label', 'Acknowledged'), document.createTextNode(' by '),
        node('span', 'acked-by', alert.acknowledgedBy || 'unknown'));
      status.append(line);
      if (alert.acknowledgedAt) status.append(timeNode('acked-at', alert.acknowledgedAt, now));
    } else {
      status.append(node('span', 'state-label', 'Open'));
      if (mayAcknowledge) status.append(acknowledgeButton(alert));
    }
    const problem = rowErrors.get(alert.id);
    if (problem) status.append(node('span', 'row-error', problem));
    row.append(status);
    return row;
  }

  function acknowledgeButton(alert) {
    const pending = acking.has(alert.id);
    const button = node('button', 'ack', pending ? 'Acknowledging…' : 'Acknowledge');
    button.type = 'button';
    button.disabled = pending;
    button.dataset.action = 'ack';
    button.setAttribute('aria-label', 'Acknowledge ' + alert.severity + ' ' + vitalLabel(alert.vital)
      + ' alert, ' + locationLabel(alert.location));
    button.addEventListener('click', () => acknowledge(alert.id));
    return button;
  }

  function render() {
    const now = Date.now();
    const groups = new Map();   // location → alerts, most urgent first
    for (const alert of [...alerts.values()].sort(compareAlerts)) {
      const key = alert.location || '';
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(alert);
    }
    // Beds ordered by their most urgent alert (the map kept the sorted insertion order).
    const sections = [];
    for (const [location, list] of groups) {
      const section = node('section', 'bed');
      section.dataset.location = location;
      const heading = node('h2', 'bed-name', locationLabel(location));
      heading.append(node('span', 'bed-count', list.length === 1 ? '1 alert' : list.length + ' alerts'));
      section.append(heading);
      for (const alert of list) section.append(renderRow(alert, now));
      sections.push(section);
    }
    // Keep keyboard focus on the same button across re-renders.
    const focused = document.activeElement && document.activeElement.closest
      ? document.activeElement.closest('[data-alert-id]') : null;
    const focusedId = focused ? focused.dataset.alertId : null;
    ui.alerts.replaceChildren(...sections);
    if (focusedId) {
      const again = ui.alerts.querySelector('[data-alert-id="' + CSS.escape(focusedId) + '"] button');
      if (again) again.focus();
    }

    const open = [...alerts.values()].filter((a) => a.state === 'open').length;
    ui.alerts.dataset.alertCount = String(alerts.size);
    ui.empty.hidden = alerts.size !== 0 || document.body.dataset.loaded !== 'true';
    ui.summary.textContent = document.body.dataset.loaded === 'true'
      ? open + ' open, ' + (alerts.size - open) + ' acknowledged' : '';
    document.title = (open ? '(' + open + ') ' : '') + "Nurses' station · NileCare Vitals";
  }

  function refreshAgo() {
    const now = Date.now();
    for (const time of ui.alerts.querySelectorAll('time[data-since]')) {
      time.textContent = ago(time.dataset.since, now);
    }
  }

  // ---- acknowledging ------------------------------------------------------------------------

  async function acknowledge(id) {
    if (acking.has(id)) return;
    acking.add(id);
    rowErrors.delete(id);
    render();
    try {
      const answer = await api('POST', 'alerts/' + encodeURIComponent(id) + '/ack');
      // A row gone meanwhile was resolved, or left out of a reload: the server's later word.
      if (alerts.has(id)) merge(answer);
    } catch (error) {
      if (error.status === 404 || error.status === 409) {
        // Resolved meanwhile, or no longer ours: the server's word wins.
        alerts.delete(id);
        showBanner('Alert ' + id + ' was already resolved or is no longer assigned to this station.', NOTICE_MS);
      } else if (error.status === 401) {
        handleFailure(error);
      } else {
        rowErrors.set(id, 'Not acknowledged: ' + error.message);
      }
    } finally {
      acking.delete(id);
    }
    render();
  }

  // ---- banner and connection indicator ------------------------------------------------------

  function setConnection(state, label) {
    ui.connection.dataset.connection = state;
    ui.connection.textContent = label;
  }
  // A notice (duration given) goes away by itself unless something else replaced it.
  function showBanner(text, duration) {
    ui.banner.textContent = text;
    ui.banner.hidden = false;
    if (duration) setTimeout(() => { if (ui.banner.textContent === text) hideBanner(); }, duration);
  }
  function hideBanner() { ui.banner.hidden = true; ui.banner.textContent = ''; }

  // ---- start --------------------------------------------------------------------------------

  if (!token) {
    setConnection('reconnecting', 'Not signed in');
    showBanner('No access token. Open this page with the link that includes ?access_token=…');
    return;
  }
  render();
  refresh();
  connect();
  setInterval(refreshAgo, AGO_EVERY_MS);
})();
