// The strata console. The bearer token lives in this module's memory only: a reload
// signs out, and no other page or script can find it in storage or a cookie.

let token = null;

const $ = (selector) => document.querySelector(selector);

// The page's views; one shows at a time.
const VIEWS = ["sign-in-view", "buckets-view", "objects-view", "history-view", "events-view",
               "admin-view", "details-view", "settings-view"];

function showView(shown) {
  for (const view of VIEWS) $(`#${view}`).hidden = view !== shown;
}

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
  EntityTooLarge: "The file is larger than strata takes in one upload.",
  NoSuchUpload: "The upload was cancelled or has expired: start it again.",
  RequestExpired: "The upload took longer than its signed link allows: start it again.",
  QuotaExceeded: "The bucket's quota is used up.",
  SlowDown: "strata is busy: try again in a moment.",
  InvalidObjectState: "The object is locked and cannot be changed now.",
  KeyTooLongError: "That name is too long: keys are at most 1024 bytes.",
  MalformedXML: "The document is not XML S3 accepts for this setting: check it against the example.",
  MalformedPolicy: "The policy is not one S3 accepts.",
  InvalidArgument: "A value in the document is not allowed.",
  InvalidRequest: "S3 refused the request.",
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

const bucketCreated = {};  // bucket name -> when it was created (the slider's start)

async function showBuckets() {
  const { buckets } = await api("/buckets");
  for (const bucket of buckets) bucketCreated[bucket.name] = bucket.created_at;
  const body = $("#buckets tbody");
  body.replaceChildren();
  for (const bucket of buckets) {
    const row = body.insertRow();
    row.dataset.bucket = bucket.name;
    const open = document.createElement("button");
    open.type = "button";
    open.className = "link";
    open.textContent = bucket.name;
    open.setAttribute("aria-label", `Open bucket ${bucket.name}`);
    open.addEventListener("click", () => guarded(() => showObjects(bucket.name, "")));
    row.insertCell().append(open);
    cell(row, String(bucket.stats.objects));
    cell(row, bytes(bucket.stats.version_bytes));
    cell(row, bucket.versioning || "Off");
    cell(row, new Date(bucket.created_at).toLocaleString());
    const settings = actionButton("Settings", `of bucket ${bucket.name}`,
      () => showSettings(bucket.name));
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "Delete";
    remove.setAttribute("aria-label", `Delete bucket ${bucket.name}`);
    remove.addEventListener("click", () => guarded(async () => {
      if (!confirm(`Delete the bucket ${bucket.name}?`)) return;
      await api(`/buckets/${encodeURIComponent(bucket.name)}`, { method: "DELETE" });
      await showBuckets();
    }));
    row.insertCell().append(settings, remove);
  }
  $("#buckets").hidden = buckets.length === 0;
  $("#no-buckets").hidden = buckets.length > 0;
}

// -- objects: a bucket browsed by prefix, "/" making folders --------------------------

const PAGE_SIZE = 50;
let browsing = { bucket: "", prefix: "", cursor: null, asOf: null };

function objectPath(bucket, key) {
  return `/buckets/${encodeURIComponent(bucket)}/objects/${key.split("/").map(encodeURIComponent).join("/")}`;
}

function actionButton(label, name, act) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = label;
  button.setAttribute("aria-label", `${label} ${name}`);
  button.addEventListener("click", () => guarded(act));
  return button;
}

function showCrumbs(bucket, prefix) {
  const crumbs = $("#crumbs");
  crumbs.replaceChildren();
  const parts = prefix.split("/").filter(Boolean);
  const levels = [["(top)", ""], ...parts.map((part, i) => [part, parts.slice(0, i + 1).join("/") + "/"])];
  levels.forEach(([label, at], i) => {
    if (i) crumbs.append(" / ");
    const go = document.createElement("button");
    go.type = "button";
    go.className = "link";
    go.textContent = label;
    go.addEventListener("click", () => guarded(() => showObjects(bucket, at, browsing.asOf)));
    crumbs.append(go);
  });
}

// A presigned S3 request for the signed-in user (it is signed only if they may make it).
function presign(bucket, body) {
  return api(`/buckets/${encodeURIComponent(bucket)}/presign`, { method: "POST", json: body });
}

// The current or a named version: the browser downloads it straight from the S3 door.
async function download(bucket, key, versionId = "") {
  const body = { operation: "get", key, download: true, expires_seconds: 300 };
  if (versionId) body.version_id = versionId;
  const { url } = await presign(bucket, body);
  const link = document.createElement("a");
  link.href = url;
  document.body.append(link);
  link.click();
  link.remove();
}

// The bytes of the past (an as-of read) come from the native door: no S3 request names them.
async function downloadAsOf(bucket, key, query) {
  const response = await fetch(objectPath(bucket, key) + query,
    { headers: { authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(sentence("", "", response.status));
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = key.split("/").pop();
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
}

function objectRow(bucket, entry) {
  const row = $("#objects tbody").insertRow();
  row.dataset.key = entry.key;
  const name = cell(row, entry.key.slice(browsing.prefix.length));
  if (!browsing.asOf) {
    const pick = document.createElement("input");
    pick.type = "checkbox";
    pick.className = "pick";
    pick.value = entry.key;
    pick.setAttribute("aria-label", `Select ${entry.key}`);
    pick.addEventListener("change", showSelection);
    name.prepend(pick, " ");
  }
  cell(row, bytes(entry.size));
  cell(row, new Date(entry.last_modified).toLocaleString());
  const actions = row.insertCell();
  if (browsing.asOf) {  // the past: its bytes as they were, nothing to change
    const then = `?as_of=${encodeURIComponent(browsing.asOf)}`;
    actions.append(actionButton("Download", entry.key, () => downloadAsOf(bucket, entry.key, then)));
    return;
  }
  actions.append(actionButton("Download", entry.key, () => download(bucket, entry.key)),
    actionButton("Share", entry.key, () => openShare(bucket, entry.key)),
    actionButton("Details", entry.key, () => showDetails(bucket, entry.key)),
    actionButton("History", entry.key, () => showHistory(bucket, entry.key)),
    actionButton("Delete", entry.key, async () => {
      if (!confirm(`Delete ${entry.key}?`)) return;
      await api(objectPath(bucket, entry.key), { method: "DELETE" });
      await showObjects(bucket, browsing.prefix);
    }));
}

// -- a bucket's settings: versioning and access here, the rest as S3 documents ---------

let configuring = "";  // the bucket

const EXAMPLES = {
  policy: (bucket) => JSON.stringify({ Version: "2012-10-17", Statement: [{
    Sid: "PublicRead", Effect: "Allow", Principal: "*", Action: "s3:GetObject",
    Resource: `arn:aws:s3:::${bucket}/public/*` }] }, null, 2),
  cors: () => `<CORSConfiguration>
  <CORSRule>
    <AllowedOrigin>https://app.example.com</AllowedOrigin>
    <AllowedMethod>GET</AllowedMethod>
    <AllowedHeader>*</AllowedHeader>
    <MaxAgeSeconds>3000</MaxAgeSeconds>
  </CORSRule>
</CORSConfiguration>`,
  lifecycle: () => `<LifecycleConfiguration>
  <Rule>
    <ID>expire-tmp</ID>
    <Filter><Prefix>tmp/</Prefix></Filter>
    <Status>Enabled</Status>
    <Expiration><Days>7</Days></Expiration>
  </Rule>
</LifecycleConfiguration>`,
  tagging: () => `<Tagging>
  <TagSet>
    <Tag><Key>team</Key><Value>data</Value></Tag>
  </TagSet>
</Tagging>`,
  replication: (bucket) => `<ReplicationConfiguration>
  <Role>arn:aws:iam::000000000000:role/replication</Role>
  <Rule>
    <ID>to-other-site</ID>
    <Status>Enabled</Status>
    <Priority>1</Priority>
    <Filter><Prefix></Prefix></Filter>
    <DeleteMarkerReplication><Status>Disabled</Status></DeleteMarkerReplication>
    <Destination><Bucket>arn:aws:s3:::${bucket}-copy</Bucket></Destination>
  </Rule>
</ReplicationConfiguration>`,
  "object-lock": () => `<ObjectLockConfiguration>
  <ObjectLockEnabled>Enabled</ObjectLockEnabled>
  <Rule>
    <DefaultRetention><Mode>GOVERNANCE</Mode><Days>30</Days></DefaultRetention>
  </Rule>
</ObjectLockConfiguration>`,
  encryption: () => `<ServerSideEncryptionConfiguration>
  <Rule>
    <ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>
  </Rule>
</ServerSideEncryptionConfiguration>`,
};

// A presigned request to the S3 door for a bucket setting; S3's error codes as sentences.
async function s3Setting(operation, body) {
  const setting = $("#document-name").value;
  const { url, method } = await presign(configuring, { operation, setting, expires_seconds: 60 });
  const response = await fetch(url, { method, body });
  const text = await response.text();
  if (response.ok) return text;
  const found = new DOMParser().parseFromString(text, "application/xml");
  const code = found.querySelector("Code")?.textContent || "";
  const message = found.querySelector("Message")?.textContent || "";
  if (response.status === 404 && operation === "get_setting") return null;
  const told = SENTENCES[code] && message ? `${SENTENCES[code]} S3 said: ${message}` : "";
  throw new Error(told || sentence(code, message, response.status));
}

function settingsSaid(text) {
  $("#settings-status").textContent = text;
}

async function showDocument() {
  const name = $("#document-name").value;
  const text = await s3Setting("get_setting");
  $("#document-text").value = text ?? EXAMPLES[name](configuring);
  settingsSaid(text === null ? "Not set: the example below shows the form. Edit it and save."
                             : "As it is set now.");
}

async function showSettings(bucket) {
  configuring = bucket;
  const b = encodeURIComponent(bucket);
  const [versioning, acl] = await Promise.all([
    api(`/buckets/${b}/versioning`), api(`/buckets/${b}/acl`)]);
  showView("settings-view");
  $("#settings-title").textContent = `Settings of ${bucket}`;
  $("#versioning-status").value = versioning.status === "Enabled" ? "Enabled" : "Suspended";
  showGrants($("#bucket-grants"), acl);
  settingsSaid("");
  await showDocument();
}

$("#settings-close").addEventListener("click", () => guarded(async () => {
  showView("buckets-view");
  await showBuckets();
}));
$("#versioning-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(async () => {
    const status = $("#versioning-status").value;
    await api(`/buckets/${encodeURIComponent(configuring)}/versioning`,
      { method: "PUT", json: { status } });
    settingsSaid(`Versioning is ${status.toLowerCase()}.`);
  });
});
$("#bucket-acl-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(async () => {
    await api(`/buckets/${encodeURIComponent(configuring)}/acl`,
      { method: "PUT", json: { acl: $("#bucket-acl").value } });
    await showSettings(configuring);
    settingsSaid("Access is changed.");
  });
});
$("#document-name").addEventListener("change", () => guarded(showDocument));
$("#document-load").addEventListener("click", () => guarded(showDocument));
$("#document-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(async () => {
    settingsSaid("");
    await s3Setting("put_setting", $("#document-text").value);
    settingsSaid("Saved.");
  });
});
$("#document-remove").addEventListener("click", () => guarded(async () => {
  if (!confirm(`Remove the bucket's ${$("#document-name").selectedOptions[0].text}?`)) return;
  await s3Setting("delete_setting");
  await showDocument();
  settingsSaid("Removed.");
}));

// -- an object's details: facts, tags, who may read it, its versions -------------------

let detailing = null;  // { bucket, key }

function keyPath(key) {
  return key.split("/").map(encodeURIComponent).join("/");
}

// An ACL's grants, one a line: who, and what they may do.
function showGrants(list, acl) {
  list.replaceChildren(...acl.grants.map((grant) => {
    const item = document.createElement("li");
    item.textContent = `${grant.grantee}: ${grant.permission}`;
    return item;
  }));
}

function fact(list, term, value) {
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  dd.textContent = value;
  list.append(dt, dd);
}

function tagRow(key = "", value = "") {
  const row = $("#tags tbody").insertRow();
  for (const [label, text, limit] of [["Tag key", key, 128], ["Tag value", value, 256]]) {
    const input = document.createElement("input");
    input.value = text;
    input.maxLength = limit;
    input.setAttribute("aria-label", label);
    row.insertCell().append(input);
  }
  row.insertCell().append(actionButton("Remove tag", key || "new", async () => row.remove()));
}

async function showDetails(bucket, key) {
  detailing = { bucket, key };
  const b = encodeURIComponent(bucket);
  const [meta, acl, listing] = await Promise.all([
    api(`/buckets/${b}/meta/${keyPath(key)}`),
    api(`/buckets/${b}/object-acl/${keyPath(key)}`),
    api(`/buckets/${b}/list?${new URLSearchParams({ prefix: key, versions: "true", limit: "1000" })}`),
  ]);
  showView("details-view");
  $("#details-title").textContent = key;
  $("#details-status").textContent = "";
  const facts = $("#details-facts");
  facts.replaceChildren();
  fact(facts, "Size", bytes(meta.size_bytes));
  fact(facts, "Type", meta.content_type);
  fact(facts, "Written", new Date(meta.created_at).toLocaleString());
  fact(facts, "ETag", meta.etag);
  fact(facts, "Version", meta.version_id);
  for (const [name, value] of Object.entries(meta.metadata)) fact(facts, `x-amz-meta-${name}`, value);
  if (meta.retention) fact(facts, "Retained", `${meta.retention.mode} until ${meta.retention.until}`);
  if (meta.legal_hold) fact(facts, "Legal hold", "on");

  $("#tags tbody").replaceChildren();
  for (const [name, value] of Object.entries(meta.tags)) tagRow(name, value);

  showGrants($("#grants"), acl);

  const body = $("#versions tbody");
  body.replaceChildren();
  const versions = listing.objects.filter((entry) => entry.key === key);
  for (const version of versions) {
    const row = body.insertRow();
    row.dataset.version = version.version_id;
    cell(row, version.version_id);
    cell(row, new Date(version.last_modified).toLocaleString());
    cell(row, version.is_delete_marker ? "" : bytes(version.size));
    cell(row, version.is_delete_marker ? "delete marker"
      : (version.is_latest ? "current" : "earlier"));
    const actions = row.insertCell();
    if (!version.is_delete_marker) {
      actions.append(actionButton("Download version", version.version_id,
        () => download(bucket, key, version.version_id)));
      if (!version.is_latest) {
        actions.append(actionButton("Restore version", version.version_id,
          () => restoreVersion(bucket, key, version.version_id)));
      }
    }
  }
}

// The version's bytes and metadata become the current version again (a new version).
async function restoreVersion(bucket, key, versionId) {
  await api(`/buckets/${encodeURIComponent(bucket)}/restore-version`,
    { method: "POST", json: { key, version_id: versionId } });
  await showDetails(bucket, key);
  $("#details-status").textContent = `Version ${versionId} is the current one again.`;
}

$("#details-close").addEventListener("click", () => guarded(
  () => showObjects(browsing.bucket, browsing.prefix)));
$("#tag-add").addEventListener("click", () => {
  tagRow();
  $("#tags tbody").lastElementChild.querySelector("input").focus();
});
$("#tags-save").addEventListener("click", () => guarded(async () => {
  const tags = {};
  for (const row of $("#tags tbody").rows) {
    const [name, value] = [...row.querySelectorAll("input")].map((input) => input.value.trim());
    if (name) tags[name] = value;
  }
  const { bucket, key } = detailing;
  await api(`/buckets/${encodeURIComponent(bucket)}/tags/${keyPath(key)}`,
    { method: "PUT", json: { tags } });
  await showDetails(bucket, key);
  $("#details-status").textContent = "Tags saved.";
}));
$("#acl-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(async () => {
    const { bucket, key } = detailing;
    await api(`/buckets/${encodeURIComponent(bucket)}/object-acl/${keyPath(key)}`,
      { method: "PUT", json: { acl: $("#acl-canned").value } });
    await showDetails(bucket, key);
    $("#details-status").textContent = "Who may read it is changed.";
  });
});

// -- history and time travel ----------------------------------------------------------

const CHANGES = {
  "s3:ObjectCreated:Put": "written", "s3:ObjectCreated:Copy": "copied here",
  "s3:ObjectCreated:CompleteMultipartUpload": "written (multipart)",
  "s3:ObjectRemoved:Delete": "version removed",
  "s3:ObjectRemoved:DeleteMarkerCreated": "deleted (delete marker)",
  "s3:ObjectAcl:Put": "ACL changed", "s3:ObjectTagging:Put": "tags changed",
  "s3:ObjectTagging:Delete": "tags removed", "s3:ObjectRestore:Completed": "restored",
};

async function showHistory(bucket, key) {
  const { history } = await api(`/buckets/${encodeURIComponent(bucket)}/history/${key.split("/").map(encodeURIComponent).join("/")}`);
  showView("history-view");
  $("#history-title").textContent = `History of ${key}`;
  const body = $("#history tbody");
  body.replaceChildren();
  for (const change of history) {
    const row = body.insertRow();
    cell(row, new Date(change.time).toLocaleString());
    cell(row, CHANGES[change.name] || change.name);
    cell(row, change.user || change.actor || "");
    cell(row, change.source || "");
    cell(row, change.version_id || "");
    const actions = row.insertCell();
    const version = change.data && change.data.version;
    if (version && !version.is_delete_marker) {
      actions.append(actionButton("Download version", version.version_id,
        () => download(bucket, key, version.version_id)),
      actionButton("Restore version", version.version_id, async () => {
        await restoreVersion(bucket, key, version.version_id);
      }));
    }
  }
}

$("#history-close").addEventListener("click", () => {
  showView("objects-view");
});

function restorePath(dryRun) {
  const query = new URLSearchParams({ as_of: browsing.asOf, prefix: browsing.prefix });
  if (dryRun) query.set("dry_run", "true");
  return `/buckets/${encodeURIComponent(browsing.bucket)}/restore?${query}`;
}

function listed(keys) {
  return keys.length ? `: ${keys.slice(0, 10).join(", ")}${keys.length > 10 ? ", …" : ""}` : "";
}

// The slider runs from the bucket's creation to now, in milliseconds; letting go of it
// shows the bucket as it was at that instant, and the field shows the instant.
function localText(millis) {
  const at = new Date(millis);
  const pad = (n, width = 2) => String(n).padStart(width, "0");
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T` +
    `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}.` +
    `${pad(at.getMilliseconds(), 3)}`;
}

async function setSlider(bucket, asOf) {
  if (!bucketCreated[bucket]) {
    bucketCreated[bucket] = (await api(`/buckets/${encodeURIComponent(bucket)}`)).created_at;
  }
  const slider = $("#as-of-slider");
  slider.min = String(Date.parse(bucketCreated[bucket]));
  slider.max = String(Date.now());
  slider.value = String(asOf ? Date.parse(asOf) : Date.now());
  $("#as-of").value = localText(Number(slider.value));
}

$("#as-of-slider").addEventListener("input", (event) => {
  $("#as-of").value = localText(Number(event.target.value));
});
$("#as-of-slider").addEventListener("change", (event) => guarded(async () => {
  const asOf = new Date(Number(event.target.value)).toISOString();
  await showObjects(browsing.bucket, browsing.prefix, asOf);
}));

$("#travel").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(async () => {
    const asOf = new Date($("#as-of").value).toISOString();
    await showObjects(browsing.bucket, browsing.prefix, asOf);
  });
});
$("#to-now").addEventListener("click", () => guarded(() => showObjects(browsing.bucket, browsing.prefix)));
$("#restore-plan").addEventListener("click", () => guarded(async () => {
  const plan = await api(restorePath(true), { method: "POST" });
  const { restored, deleted, gone } = plan.counts;
  $("#restore-text").textContent = restored + deleted === 0
    ? "Nothing to change: this folder is as it was then."
    : `Restoring would bring back ${restored}${listed(plan.restored)} and delete ${deleted}` +
      `${listed(plan.deleted)}` + (gone ? `; ${gone} can no longer be restored.` : ".");
  $("#restore-report").hidden = false;
  $("#restore-confirm").hidden = restored + deleted === 0;
}));
$("#restore-confirm").addEventListener("click", () => guarded(async () => {
  const done = await api(restorePath(false), { method: "POST" });
  await showObjects(browsing.bucket, browsing.prefix);
  $("#restore-text").textContent =
    `Restored ${done.counts.restored} and deleted ${done.counts.deleted}.`;
  $("#restore-report").hidden = false;
  $("#restore-confirm").hidden = true;
}));

function folderRow(bucket, prefix) {
  const row = $("#objects tbody").insertRow();
  row.dataset.folder = prefix;
  const open = document.createElement("button");
  open.type = "button";
  open.className = "link";
  open.textContent = prefix.slice(browsing.prefix.length);
  open.setAttribute("aria-label", `Open folder ${prefix}`);
  open.addEventListener("click", () => guarded(() => showObjects(bucket, prefix, browsing.asOf)));
  row.insertCell().append(open);
  row.insertCell();
  row.insertCell();
  row.insertCell();
}

async function showPage(bucket, prefix, cursor) {
  const query = new URLSearchParams({ prefix, delimiter: "/", limit: String(PAGE_SIZE) });
  if (cursor) query.set("cursor", cursor);
  if (browsing.asOf) query.set("as_of", browsing.asOf);
  const page = await api(`/buckets/${encodeURIComponent(bucket)}/list?${query}`);
  for (const folder of page.common_prefixes) folderRow(bucket, folder);
  for (const entry of page.objects) objectRow(bucket, entry);
  browsing.cursor = page.next_cursor;
  $("#more").hidden = !page.next_cursor;
  const empty = $("#objects tbody").rows.length === 0;
  $("#objects").hidden = empty;
  $("#no-objects").hidden = !empty;
}

function selectedKeys() {
  return [...document.querySelectorAll("#objects .pick:checked")].map((box) => box.value);
}

function showSelection() {
  const count = selectedKeys().length;
  $("#delete-selected").hidden = count === 0;
  $("#delete-selected").textContent = `Delete ${count} selected`;
}

$("#delete-selected").addEventListener("click", () => guarded(async () => {
  const keys = selectedKeys();
  if (!confirm(`Delete ${keys.length} objects?`)) return;
  const failed = [];
  for (const key of keys) {  // one by one: each is a delete the policy function decides
    try {
      await api(objectPath(browsing.bucket, key), { method: "DELETE" });
    } catch (error) {
      failed.push(`${key}: ${error.message}`);
    }
  }
  await showObjects(browsing.bucket, browsing.prefix);
  if (failed.length) throw new Error(`Not deleted: ${failed.join("; ")}`);
}));

async function showObjects(bucket, prefix, asOf = null) {
  browsing = { bucket, prefix, cursor: null, asOf };
  showView("objects-view");
  $("#objects-title").textContent = asOf
    ? `${bucket} as it was at ${new Date(asOf).toLocaleString()}` : bucket;
  $("#to-now").hidden = !asOf;
  $("#upload-zone").hidden = Boolean(asOf);  // uploads land now, never in the past
  $("#restore-plan").hidden = !asOf;
  $("#restore-report").hidden = true;
  $("#search-prefix").value = prefix;
  $("#objects tbody").replaceChildren();
  $("#delete-selected").hidden = true;
  showCrumbs(bucket, prefix);
  await Promise.all([showPage(bucket, prefix, null), setSlider(bucket, asOf)]);
}

$("#more").addEventListener("click", () => guarded(
  () => showPage(browsing.bucket, browsing.prefix, browsing.cursor)));
$("#search").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(() => showObjects(browsing.bucket, $("#search-prefix").value, browsing.asOf));
});
$("#to-buckets").addEventListener("click", () => guarded(async () => {
  showView("buckets-view");
  await showBuckets();
}));

// -- uploads: straight to the S3 door, presigned; multipart for large files ------------

const PART_BYTES = 8 * 1024 * 1024;
const MULTIPART_FROM = 2 * PART_BYTES;
const PARTS_AT_ONCE = 3;

// An S3 error answer's code, as a sentence.
function s3Failure(request) {
  const found = new DOMParser().parseFromString(request.responseText || "", "application/xml");
  const code = found.querySelector("Code")?.textContent || "";
  const message = found.querySelector("Message")?.textContent || "";
  return new Error(sentence(code, message, request.status));
}

// One request to the S3 door, reporting the bytes sent so far.
function send(method, url, body, sent = () => {}) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open(method, url);
    request.upload.addEventListener("progress", (event) => sent(event.loaded));
    request.addEventListener("load", () => (request.status < 300 ? resolve(request)
                                                                  : reject(s3Failure(request))));
    request.addEventListener("error", () => reject(new Error(
      "The S3 door could not be reached: check the connection, then try again.")));
    request.send(body);
  });
}

function uploadItem(key, size) {
  const item = document.createElement("li");
  item.dataset.key = key;
  const label = document.createElement("span");
  label.textContent = `${key} (${bytes(size)})`;
  const bar = document.createElement("progress");
  bar.max = Math.max(size, 1);
  bar.value = 0;
  bar.setAttribute("aria-label", `Upload of ${key}`);
  const state = document.createElement("span");
  state.className = "upload-state";
  state.textContent = "waiting";
  item.append(label, bar, state);
  $("#uploads").append(item);
  return {
    progress(done) {
      bar.value = Math.min(done, bar.max);
      state.textContent = `${Math.floor((100 * bar.value) / bar.max)}%`;
    },
    finish(text) { bar.value = bar.max; state.textContent = text; item.dataset.done = "true"; },
    fail(error) { state.textContent = `failed: ${error.message}`; item.dataset.failed = "true"; },
  };
}

async function uploadWhole(bucket, key, file, item) {
  const { url } = await presign(bucket, { operation: "put", key });
  await send("PUT", url, file, (sent) => item.progress(sent));
}

async function uploadInParts(bucket, key, file, item) {
  const { url } = await presign(bucket, { operation: "create_upload", key });
  const begun = await send("POST", url, null);
  const uploadId = begun.responseXML?.querySelector("UploadId")?.textContent
    || new DOMParser().parseFromString(begun.responseText, "application/xml")
      .querySelector("UploadId").textContent;
  const count = Math.ceil(file.size / PART_BYTES);
  const sentOf = new Array(count).fill(0);
  const etags = new Array(count);
  let next = 0;
  const shown = () => item.progress(sentOf.reduce((a, b) => a + b, 0));
  async function worker() {
    while (next < count) {
      const index = next++;
      const number = index + 1;
      const body = file.slice(index * PART_BYTES, Math.min(file.size, number * PART_BYTES));
      const part = await presign(bucket, { operation: "upload_part", key,
                                           part_number: number, upload_id: uploadId });
      const answer = await send("PUT", part.url, body, (sent) => { sentOf[index] = sent; shown(); });
      sentOf[index] = body.size;
      shown();
      etags[index] = answer.getResponseHeader("ETag");
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(PARTS_AT_ONCE, count) }, worker));
    const parts = etags.map((etag, i) =>
      `<Part><PartNumber>${i + 1}</PartNumber><ETag>${etag}</ETag></Part>`).join("");
    const done = await presign(bucket, { operation: "complete_upload", key, upload_id: uploadId });
    const answer = await send("POST", done.url,
      `<CompleteMultipartUpload>${parts}</CompleteMultipartUpload>`);
    // S3 may answer 200 and still fail a completion: the error is in the body
    if (answer.responseText.includes("<Error>")) throw s3Failure(answer);
  } catch (error) {
    presign(bucket, { operation: "abort_upload", key, upload_id: uploadId })
      .then(({ url }) => send("DELETE", url, null)).catch(() => {});
    throw error;
  }
}

// Files one after another (each large one several parts at once); the folder is shown
// again when all are done.
async function upload(files) {
  const { bucket, prefix } = browsing;
  const queued = files.map(({ file, path }) =>
    ({ file, key: prefix + path, item: uploadItem(prefix + path, file.size) }));
  let failed = 0;
  for (const { file, key, item } of queued) {
    try {
      await (file.size >= MULTIPART_FROM ? uploadInParts : uploadWhole)(bucket, key, file, item);
      item.finish("uploaded");
    } catch (error) {
      failed += 1;
      item.fail(error);
    }
  }
  if (browsing.bucket === bucket && browsing.prefix === prefix && !browsing.asOf) {
    await showObjects(bucket, prefix);
  }
  if (failed) throw new Error(`${failed} of ${queued.length} uploads failed: see the list.`);
}

function picked(input, pathOf) {
  const files = [...input.files].map((file) => ({ file, path: pathOf(file) }));
  input.value = "";
  if (files.length) guarded(() => upload(files));
}

$("#upload-files").addEventListener("change", (event) => picked(event.target, (f) => f.name));
$("#upload-folder").addEventListener("change",
  (event) => picked(event.target, (f) => f.webkitRelativePath || f.name));

// A dropped folder's files, with their paths inside it.
async function dropped(entry, found) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    found.push({ file, path: entry.fullPath.replace(/^\//, "") });
  } else if (entry.isDirectory) {
    const reader = entry.createReader();
    for (;;) {  // a directory reader answers in batches until an empty one
      const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
      if (!batch.length) break;
      for (const child of batch) await dropped(child, found);
    }
  }
}

const zone = $("#upload-zone");
zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
zone.addEventListener("dragleave", () => zone.classList.remove("over"));
zone.addEventListener("drop", (event) => {
  event.preventDefault();
  zone.classList.remove("over");
  const items = [...event.dataTransfer.items];
  const entries = items.map((item) => item.webkitGetAsEntry && item.webkitGetAsEntry());
  guarded(async () => {
    const found = [];
    if (entries.length && entries.every(Boolean)) {
      for (const entry of entries) await dropped(entry, found);
    } else {
      for (const file of event.dataTransfer.files) found.push({ file, path: file.name });
    }
    if (found.length) await upload(found);
  });
});

// -- sharing: a presigned link to the current version, for a chosen time --------------

let sharing = null;  // { bucket, key }

function openShare(bucket, key) {
  sharing = { bucket, key };
  $("#share-title").textContent = `Share ${key}`;
  $("#share-result").hidden = true;
  $("#share-dialog").showModal();
}

$("#share-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(async () => {
    const answer = await presign(sharing.bucket, {
      operation: "get", key: sharing.key, expires_seconds: Number($("#share-expiry").value) });
    $("#share-link").value = answer.url;
    $("#share-until").textContent = new Date(answer.expires_at).toLocaleString();
    $("#share-result").hidden = false;
    $("#share-link").select();
  });
});
$("#share-copy").addEventListener("click", () => guarded(async () => {
  await navigator.clipboard.writeText($("#share-link").value);
  $("#share-copy").textContent = "Copied";
}));
$("#share-close").addEventListener("click", () => $("#share-dialog").close());

// -- live events: the bucket's stream (SSE read with fetch, which can send the token) --

let watching = null;  // { controller, after, bucket, prefix, types }
const SHOWN_EVENTS = 200;

function stopWatching() {
  if (watching && watching.controller) watching.controller.abort();
  if (watching) watching.controller = null;
}

function showEvent(record) {
  const item = document.createElement("li");
  item.dataset.position = String(record.position);
  const when = new Date(record.time).toLocaleTimeString();
  const where = watching && watching.bucket === null ? `${record.bucket || ""}/` : "";
  item.textContent = `${when}  ${record.name}  ${where}${record.key || ""}  by ${record.user || record.actor || "strata"}`;
  const list = $("#events");
  list.prepend(item);
  while (list.children.length > SHOWN_EVENTS) list.lastElementChild.remove();
}

async function readEvents() {
  const current = watching;
  const controller = new AbortController();
  current.controller = controller;
  const query = new URLSearchParams(current.bucket === null ? {}
    : { bucket: current.bucket, prefix: current.prefix });
  if (current.types) query.set("type", current.types);
  if (current.after !== null) query.set("after", String(current.after));
  $("#events-state").textContent = "Watching: new events appear at the top.";
  try {
    const response = await fetch(`/events?${query}`,
      { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
    if (!response.ok) {
      let found = {};
      try { found = await response.json(); } catch { /* the status says it */ }
      throw new Error(sentence(found.error, found.message, response.status));
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
      let end;
      while ((end = buffered.indexOf("\n\n")) >= 0) {
        const message = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const data = message.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
        if (!data) continue;
        const record = JSON.parse(data);
        if (message.startsWith("event: error")) throw new Error(sentence(record.error, record.message, 403));
        current.after = record.position;
        showEvent(record);
      }
    }
  } catch (error) {
    if (error.name === "AbortError") return;
    showError(error);
  }
  if (current.controller === controller) $("#events-state").textContent = "The stream ended.";
}

function watch(types, everywhere = false) {
  stopWatching();  // one stream at a time; a new filter starts from now
  watching = { controller: null, after: null, bucket: everywhere ? null : browsing.bucket,
               prefix: browsing.prefix, types, back: everywhere ? "admin-view" : "objects-view" };
  $("#events-pause").textContent = "Pause";
  readEvents();
}

$("#watch").addEventListener("click", () => {
  showView("events-view");
  $("#events-close").textContent = "\u2190 Back to the folder";
  $("#events-title").textContent = `Events of ${browsing.bucket}/${browsing.prefix}`;
  $("#events").replaceChildren();
  watch($("#events-type").value.trim());
});
$("#admin-events").addEventListener("click", () => {
  showView("events-view");
  $("#events-title").textContent = "Every bucket's events";
  $("#events-close").textContent = "\u2190 Back to administration";
  $("#events").replaceChildren();
  watch($("#events-type").value.trim(), true);
});
$("#events-filter").addEventListener("submit", (event) => {
  event.preventDefault();
  $("#events").replaceChildren();
  watch($("#events-type").value.trim(), watching && watching.bucket === null);
});
$("#events-pause").addEventListener("click", () => {
  if (watching && watching.controller) {
    stopWatching();
    $("#events-pause").textContent = "Resume";
    $("#events-state").textContent = `Paused after position ${watching.after ?? "now"}.`;
  } else if (watching) {
    $("#events-pause").textContent = "Pause";
    readEvents();  // from the last position shown: nothing in between is missed
  }
});
$("#events-close").addEventListener("click", () => {
  stopWatching();
  showView(watching ? watching.back : "objects-view");
});

// -- administration: status, durability and nodes, users and keys (administrators) -----

function ago(seconds) {
  return seconds >= 1 ? `${seconds.toFixed(seconds < 10 ? 1 : 0)} s` : "";
}

async function showStatus() {
  const status = await api("/admin/status");
  const body = $("#status tbody");
  body.replaceChildren();
  const line = (part, behind, detail) => {
    const row = body.insertRow();
    row.dataset.part = part;
    cell(row, part);
    cell(row, behind);
    cell(row, detail);
  };
  line("Views", `${status.views.behind_events} events`,
    `at position ${status.views.position} of ${status.log_position}` +
    (status.views.healthy ? "" : " — stopped by an error: see the server's log"));
  if (status.relay) {
    line("Relay to Kafka", `${status.relay.behind_events} events`, ago(status.relay.behind_seconds));
  }
  for (const worker of status.workers) {
    line(`Worker: ${worker.name}`, `${worker.behind_events} events`,
      worker.dead_letters ? `${worker.dead_letters} events given up on` : "");
  }
  for (const site of status.sites || []) {
    line(`Site: ${site.name}`, `${site.lag_events} events`,
      (site.up ? "answering" : "not answering: retrying") +
      (site.failed ? `; ${site.failed} changes refused` : ""));
  }
  line("Garbage collection", "", `${status.gc.sweeps} sweeps, ${status.gc.chunks_collected} ` +
    `chunks (${bytes(status.gc.bytes_collected)}) collected`);
}

async function showDurability() {
  const report = await api("/admin/durability");
  const summary = report.backend === "local"
    ? `Chunks are kept on this server's own disk (no blob nodes): ${report.chunks} chunks.`
    : `${report.chunks} chunks, ${report.replicas} replicas each; ` +
      `${report.under_replicated} under-replicated` +
      (report.why_under_replicated ? ` (${report.why_under_replicated})` : "") +
      `. Repairs: ${report.replication.copies_made} copies made; scrub: ` +
      `${report.replication.replicas_scrubbed} replicas checked, ` +
      `${report.replication.corrupt_found + report.replication.missing_found} found bad; ` +
      `last full pass ${report.replication.last_full_pass
        ? new Date(report.replication.last_full_pass).toLocaleString() : "not yet"}.`;
  $("#durability-summary").textContent = summary;
  const body = $("#nodes tbody");
  body.replaceChildren();
  for (const node of report.nodes || []) {
    const row = body.insertRow();
    row.dataset.node = node.node_id;
    cell(row, node.node_id);
    cell(row, node.zone);
    cell(row, node.state);
    cell(row, node.up ? "yes" : "no");
    cell(row, String(node.chunks));
    cell(row, node.bytes_total ? `${bytes(node.bytes_free)} of ${bytes(node.bytes_total)}` : "");
  }
  $("#nodes").hidden = !(report.nodes || []).length;
}

function showNewKey(answer) {
  $("#new-key-id").textContent = answer.access_key;
  $("#new-key-secret").textContent = answer.secret_key;
  $("#new-key").hidden = false;
}

async function showUsers() {
  const { users } = await api("/admin/users");
  const body = $("#users tbody");
  body.replaceChildren();
  for (const user of users) {
    const row = body.insertRow();
    row.dataset.user = user.name;
    cell(row, user.admin ? `${user.name} (administrator)` : user.name);
    const keys = document.createElement("ul");
    for (const key of user.keys) {
      const item = document.createElement("li");
      item.dataset.key = key.access_key;
      item.append(`${key.access_key} ${key.active ? "active" : "inactive"} `);
      const turn = key.active ? "Deactivate" : "Activate";
      item.append(actionButton(turn, key.access_key, async () => {
        await api(`/admin/keys/${encodeURIComponent(key.access_key)}`,
          { method: "PUT", json: { active: !key.active } });
        await showUsers();
      }), actionButton("Delete key", key.access_key, async () => {
        if (!confirm(`Delete the access key ${key.access_key}?`)) return;
        await api(`/admin/keys/${encodeURIComponent(key.access_key)}`, { method: "DELETE" });
        await showUsers();
      }));
      keys.append(item);
    }
    row.insertCell().append(keys);
    row.insertCell().append(actionButton("Add key", user.name, async () => {
      showNewKey(await api(`/admin/users/${encodeURIComponent(user.name)}/keys`,
        { method: "POST", json: {} }));
      await showUsers();
    }), actionButton("Delete user", user.name, async () => {
      if (!confirm(`Delete the user ${user.name} and every key they hold?`)) return;
      await api(`/admin/users/${encodeURIComponent(user.name)}`, { method: "DELETE" });
      await showUsers();
    }));
  }
}

async function showAdmin() {
  showView("admin-view");
  $("#new-key").hidden = true;
  await Promise.all([showStatus(), showDurability(), showUsers()]);
}

$("#to-admin").addEventListener("click", () => guarded(showAdmin));
$("#admin-refresh").addEventListener("click", () => guarded(showAdmin));
$("#admin-close").addEventListener("click", () => guarded(async () => {
  showView("buckets-view");
  await showBuckets();
}));
$("#new-key-done").addEventListener("click", () => {
  $("#new-key").hidden = true;
  $("#new-key-id").textContent = $("#new-key-secret").textContent = "";
});
$("#create-user").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(async () => {
    showNewKey(await api("/admin/users", { method: "POST",
      json: { name: $("#user-name").value.trim(), admin: $("#user-admin").checked } }));
    $("#create-user").reset();
    await showUsers();
  });
});

function signedIn(me) {
  showView("buckets-view");
  $("#who").textContent = me.access_key.startsWith("oidc:") ? `${me.user} (single sign-on)`
    : `${me.user} (${me.access_key})`;
  $("#to-admin").hidden = !me.admin;
  $("#who").hidden = false;
  $("#sign-out").hidden = false;
  $("#bucket-name").focus();
}

function signOut() {
  stopWatching();
  watching = null;
  token = null;
  $("#sign-in").reset();
  $("#buckets tbody").replaceChildren();
  showView("sign-in-view");
  $("#objects tbody").replaceChildren();
  $("#history tbody").replaceChildren();
  $("#events").replaceChildren();
  $("#who").hidden = true;
  $("#sign-out").hidden = true;
  $("#to-admin").hidden = true;
  $("#users tbody").replaceChildren();
  $("#status tbody").replaceChildren();
  $("#nodes tbody").replaceChildren();
  $("#new-key").hidden = true;
  $("#new-key-id").textContent = $("#new-key-secret").textContent = "";
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
    signedIn(await api("/auth/whoami"));
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

// -- single sign-on: OpenID Connect's implicit flow for an ID token -------------------
// The issuer sends the browser back to /console/ with the ID token in the fragment (never
// sent to a server); the state and nonce this page made, kept in sessionStorage only
// until then, prove the answer is to this page's own request.

let singleSignOn = null;  // { authorization_endpoint, client_id }
const SSO_ASKED = "strata-sso-request";

function randomText() {
  const noise = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...noise)).replaceAll("+", "-").replaceAll("/", "_");
}

function claimsOf(idToken) {
  const part = (idToken.split(".")[1] || "").replaceAll("-", "+").replaceAll("_", "/");
  const raw = atob(part + "=".repeat((4 - (part.length % 4)) % 4));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(raw, (c) => c.charCodeAt(0))));
}

async function offerSingleSignOn() {
  const found = await api("/auth/sso");
  singleSignOn = found.enabled ? found : null;
  $("#sso").hidden = !singleSignOn;
}

$("#sso-sign-in").addEventListener("click", () => {
  const asked = { state: randomText(), nonce: randomText() };
  sessionStorage.setItem(SSO_ASKED, JSON.stringify(asked));
  const query = new URLSearchParams({
    response_type: "id_token", response_mode: "fragment", scope: "openid profile",
    client_id: singleSignOn.client_id, redirect_uri: `${location.origin}/console/`, ...asked });
  location.assign(`${singleSignOn.authorization_endpoint}?${query}`);
});

async function returnFromSingleSignOn() {
  const answer = new URLSearchParams(location.hash.slice(1));
  if (!answer.has("id_token") && !answer.has("error")) return;
  history.replaceState(null, "", location.pathname);  // the token leaves the address bar
  const asked = JSON.parse(sessionStorage.getItem(SSO_ASKED) || "null");
  sessionStorage.removeItem(SSO_ASKED);
  if (answer.has("error")) {
    throw new Error(`Single sign-on failed: ${answer.get("error_description") || answer.get("error")}.`);
  }
  const idToken = answer.get("id_token");
  let claims = {};
  try { claims = claimsOf(idToken); } catch { /* refused below */ }
  if (!asked || answer.get("state") !== asked.state || claims.nonce !== asked.nonce) {
    throw new Error("That sign-in was not started from this page: sign in again.");
  }
  token = idToken;
  signedIn(await api("/auth/whoami"));
  await showBuckets();
}

window.addEventListener("hashchange", () => guarded(returnFromSingleSignOn));
$("#access-key").focus();
guarded(async () => {
  await offerSingleSignOn();
  await returnFromSingleSignOn();
});
