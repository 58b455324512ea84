"""An API reference page served by the gateway itself: no CDN, no script from elsewhere.

FastAPI's own /docs loads Swagger UI from a CDN, which a hospital's network (or an air-gapped test bed) may
not reach, so it is off. This page reads /openapi.json from the same gateway and lists every operation
with its parameters, request body schema and answers; signing is explained on it, not attempted.
"""

from __future__ import annotations

from typing import Final

PAGE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'">
<title>JKN claims gateway API</title>
<style>
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h2{border-bottom:1px solid #ccc;padding-bottom:.2rem} code,pre{background:#f4f4f4;padding:.1rem .3rem}
pre{padding:.6rem;overflow:auto;max-height:24rem} .m{font-weight:bold;text-transform:uppercase;margin-right:.5rem}
details{margin:.4rem 0 1rem}
</style></head><body>
<h1>JKN claims gateway API</h1>
<p>Every request carries <code>X-cons-id</code>, <code>X-timestamp</code> (UTC epoch seconds, within 300 s) and
<code>X-signature</code> = base64(HMAC-SHA256(secret, <code>cons_id&amp;timestamp</code>)), with
<code>&amp;</code> and the hex SHA-256 of the body appended for a request with a body.
The machine-readable document: <a href="openapi.json">openapi.json</a>.</p>
<div id="ops">Loading openapi.json ...</div>
<script>
function esc(s){return String(s).replace(/[&<>"]/g,c=>({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]))}
fetch("openapi.json").then(r=>r.json()).then(doc=>{
  const out=[];
  for(const [path,ops] of Object.entries(doc.paths)){
    for(const [method,op] of Object.entries(ops)){
      out.push(`<h2><span class="m">${esc(method)}</span><code>${esc(path)}</code></h2><p>${esc(op.summary||"")}</p>`);
      for(const p of op.parameters||[]){
        const about=(p.schema||{}).description||p.description||"";
        out.push(`<div><code>${esc(p.name)}</code> (${esc(p.in)}${p.required?", required":""}) ${esc(about)}</div>`);
      }
      const body=op.requestBody&&op.requestBody.content&&op.requestBody.content["application/json"];
      if(body){
        const shown=esc(JSON.stringify(body.schema||body.example,null,2));
        out.push(`<details><summary>request body</summary><pre>${shown}</pre></details>`);
      }
      out.push(`<div>answers: ${Object.keys(op.responses||{}).map(esc).join(", ")}</div>`);
    }
  }
  document.getElementById("ops").innerHTML=out.join("\\n");
}).catch(e=>{document.getElementById("ops").textContent="openapi.json could not be read: "+e});
</script></body></html>
"""
