// The strata console. The bearer token lives in this module's memory only: a reload
// signs out, and no other page or script can find it in storage or a cookie.

let token = null;

const $ = (selector) => document.querySelector(selector);

// S3's and strata's error codes, as sentences a person can act on.
const SENTENCES = {
  Unauthorized: "The access key or secret key is wrong, or your sign-in has expired.",
  TooManyAttempts: "Too many failed sign-ins: wait a minute, then try again.",
  AccessDenied: "You are not allowed to do that.",
  NoSuchBucket: "There is no bucket by that name.",
  BucketAlreadyExists: "That bucket name is taken: bucket names are shared by everyone.",
  BucketAlreadyOwnedByYou: "You already have a bucket by that name.",
  BucketNotEmpty: "The bucket is not empty: delete its objects first.",
  InvalidBucketName: "Bucket names are 3 to 63 lowercase letters, digits, dots and hyphens.",
};

function sentence(code, message, status) {
  return SENTENCES[code] || message || `The request failed (HTTP ${status}).`;
}

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.json !== undefined) {
    headers["content-type"] = "application/json";
    options = { ...options, body: JSON.stringify(options.json) };
  }
  const response = await fetch(path, { ...options, headers });
  if (!response.ok) {
    let found = {};
    try { found = await response.json(); } catch { /* not JSON: keep the status */ }
    if (response.status === 401 && token) signOut();
    throw new Error(sentence(found.error, found.message, response.status));
  }
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : null;
}

function showError(error) {
  const box = $("#error");
  box.textContent = error ? error.message : "";
  box.hidden = !error;
}

async function guarded(work) {
  showError(null);
  try { await work(); } catch (error) { showError(error); }
}

function bytes(count) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = count, unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

function cell(row, text) {
  const td = row.insertCell();
  td.textContent = text;
  return td;
}

async function showBuckets() {
  const { buckets } = await api("/buckets");
  const body = $("#buckets tbody");
  body.replaceChildren();
  for (const bucket of buckets) {
    const row = body.insertRow();
    row.dataset.bucket = bucket.name;
    cell(row, bucket.name);
    cell(row, String(bucket.stats.objects));
    cell(row, bytes(bucket.stats.version_bytes));
    cell(row, bucket.versioning || "Off");
    cell(row, new Date(bucket.created_at).toLocaleString());
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "Delete";
    remove.setAttribute("aria-label", `Delete bucket ${bucket.name}`);
    remove.addEventListener("click", () => guarded(async () => {
      if (!confirm(`Delete the bucket ${bucket.name}?`)) return;
      await api(`/buckets/${encodeURIComponent(bucket.name)}`, { method: "DELETE" });
      await showBuckets();
    }));
    row.insertCell().append(remove);
  }
  $("#buckets").hidden = buckets.length === 0;
  $("#no-buckets").hidden = buckets.length > 0;
}

function signedIn(accessKey) {
  $("#sign-in-view").hidden = true;
  $("#buckets-view").hidden = false;
  $("#who").textContent = accessKey;
  $("#who").hidden = false;
  $("#sign-out").hidden = false;
  $("#bucket-name").focus();
}

function signOut() {
  token = null;
  $("#sign-in").reset();
  $("#buckets tbody").replaceChildren();
  $("#sign-in-view").hidden = false;
  $("#buckets-view").hidden = true;
  $("#who").hidden = true;
  $("#sign-out").hidden = true;
  $("#access-key").focus();
}

$("#sign-in").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(async () => {
    const accessKey = $("#access-key").value.trim();
    const answer = await api("/auth/token", {
      method: "POST", json: { access_key: accessKey, secret_key: $("#secret-key").value },
    });
    token = answer.token;
    $("#secret-key").value = "";
    signedIn(accessKey);
    await showBuckets();
  });
});

$("#sign-out").addEventListener("click", () => { showError(null); signOut(); });

$("#create-bucket").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(async () => {
    const name = $("#bucket-name").value.trim();
    const path = `/buckets/${encodeURIComponent(name)}`;
    await api(path, { method: "PUT", json: { object_lock: $("#bucket-lock").checked } });
    if ($("#bucket-versioning").checked && !$("#bucket-lock").checked) {
      await api(`${path}/versioning`, { method: "PUT", json: { status: "Enabled" } });
    }
    $("#create-bucket").reset();
    await showBuckets();
  });
});

$("#access-key").focus();
