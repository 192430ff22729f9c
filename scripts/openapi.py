#!/usr/bin/env python3
"""Writes docs/openapi.json (the API's OpenAPI 3.1 document) and its embedded copy,
Sources/DroverHTTP/OpenAPIDocument.swift. Edit this file, then run: python3 scripts/openapi.py"""
import json, os
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
err={"$ref":"#/components/responses/Error"}
def op(summary, responses, params=None, body=None, tag="jobs"):
    o={"summary":summary,"tags":[tag],"responses":responses}
    if params: o["parameters"]=params
    if body: o["requestBody"]=body
    return o
def r(desc, schema=None, ctype="application/json"):
    x={"description":desc}
    if schema is not None: x["content"]={ctype:{"schema":schema}}
    return x
ref=lambda n:{"$ref":"#/components/schemas/"+n}
E={"400":err,"401":err,"403":err}
idp={"name":"id","in":"path","required":True,"schema":{"type":"integer","minimum":1}}
namep={"name":"name","in":"path","required":True,"schema":{"type":"string"}}
q=lambda n,t,d:{"name":n,"in":"query","required":False,"schema":t,"description":d}
ts={"type":"string","format":"date-time"}
COUNTS={"completed":{"type":"integer"},"failed":{"type":"integer","description":"failed attempts that will retry"},"dead":{"type":"integer"},"finished":{"type":"integer"},"error_rate":{"type":["number","null"],"description":"(failed + dead) / finished"}}
TIMING={"type":"object","properties":{"avg":{"type":["number","null"]},"p95":{"type":["integer","null"]}},"description":"milliseconds"}
filters=[q("state",{"type":"string","enum":["waiting","scheduled","queued","running","completed","cancelled","dead"]},"job state"),
 q("type",{"type":"string"},"job type"),
 q("priority_min",{"type":"integer"},"priority at least"),q("priority_max",{"type":"integer"},"priority at most"),
 q("created_after",ts,"created_at ≥"),q("created_before",ts,"created_at <"),
 q("finished_after",ts,"finished_at ≥"),q("finished_before",ts,"finished_at <"),
 {"name":"payload","in":"query","required":False,"style":"form","explode":True,
  "schema":{"type":"object","additionalProperties":{"type":"string"}},
  "description":"one payload field match, written payload.FIELD[.FIELD…]=VALUE; VALUE is a JSON literal (42, true, \"x\") or else a string"},
 q("after",{"type":"string"},"cursor: the previous page's next"),q("limit",{"type":"integer","minimum":1,"maximum":1000,"default":100},"page size")]
doc={"openapi":"3.1.0",
"info":{"title":"Drover HTTP API","version":"1","description":"The HTTP API of `drover serve` (CONTRACT.md, \"HTTP API\"). JSON shapes are the CLI's `--json`. Errors are {\"error\", \"field\"}. With a token configured every route but /livez needs `Authorization: Bearer TOKEN`; the read token may only GET (403 otherwise)."},
"security":[{"bearer":[]}],
"paths":{
"/alerts":{"get":op("The alert history, newest first (open=true: only the alerts still firing; a dead job's alert stays open until acknowledged)",{"200":r("the alerts",{"type":"object","properties":{"alerts":{"type":"array","items":ref("Alert")}},"required":["alerts"]}),**E},params=[q("open",{"type":"boolean","default":False},"only the firing ones"),q("limit",{"type":"integer","minimum":1,"maximum":1000,"default":100},"at most this many")],tag="alerts")},
"/alerts/{id}/ack":{"post":op("Acknowledge an alert: it is not sent again until it resolves and fires anew (a dead job's alert is resolved by it); acknowledging twice keeps the first",{"200":r("the alert",ref("Alert")),**E,"404":err,"415":err,"422":err},params=[idp],body={"required":False,"content":{"application/json":{"schema":{"type":"object","properties":{"by":{"type":"string","minLength":1,"maxLength":200,"default":"http"}}}}}},tag="alerts")},
"/jobs":{
 "post":op("Enqueue one job (an object, 201 + the job; 200 when a live job held its unique_key) or a batch (a JSON array, or NDJSON lines; all or nothing; 201 + {jobs}). Acknowledged once durable.",
   {"201":r("created",{"oneOf":[ref("Job"),ref("JobPage")]}),"200":r("a live job held the unique key",ref("Job")),**E,"413":err,"415":err,"422":err,"503":err},
   body={"required":True,"content":{"application/json":{"schema":{"oneOf":[ref("EnqueueRequest"),{"type":"array","items":ref("EnqueueRequest"),"maxItems":10000}]}},
     "application/x-ndjson":{"schema":{"type":"string","description":"one EnqueueRequest per line"}},
     "application/jsonl":{"schema":{"type":"string","description":"one EnqueueRequest per line"}}}}),
 "get":op("List jobs, newest first, filtered; keyset pagination (`after` = the previous `next`).",{"200":r("a page",ref("JobPage")),**E},params=filters)},
"/jobs/{id}":{"get":op("One job with its errors",{"200":r("the job",ref("Job")),**E,"404":err},params=[idp])},
"/jobs/{id}/cancel":{"post":op("Cancel: waiting/scheduled/queued at once (cancel: cancelled), running on request (cancel: requested); the jobs waiting on it follow their on_parent_failure, or with cascade=true are all cancelled, down the whole waiting subtree",{"200":r("the job",ref("Job")),**E,"404":err,"409":err},params=[idp,q("cascade",{"type":"boolean","default":False},"also cancel the whole waiting subtree")])},
"/jobs/{id}/retry":{"post":op("Queue a dead or cancelled job again",{"200":r("the job",ref("Job")),**E,"404":err,"409":err},params=[idp])},
"/dead/requeue":{"post":op("Requeue dead jobs: {ids} (all or nothing), {all: true}, or a filter (type, priority_min, priority_max, created_after, created_before, finished_after, finished_before, payload.FIELD, limit ≤ 1000000, default 10000)",
   {"200":r("how many",{"type":"object","properties":{"requeued":{"type":"integer"}},"required":["requeued"]}),**E,"404":err,"409":err,"413":err,"415":err,"422":err},
   body={"required":True,"content":{"application/json":{"schema":{"type":"object","properties":{"ids":{"type":"array","items":{"type":"integer"},"maxItems":10000},"all":{"const":True},"type":{"type":"string"},"limit":{"type":"integer"}}}}}},tag="dead")},
"/stats":{"get":op("Counts by state, as `jobs stats --json`; with `window`, the window's finished attempts as `jobs stats --window --json` (per-minute aggregates; p95 is the upper edge of its power-of-two bucket: at most twice the true value)",
   {"200":r("counts, or the window's stats",{"oneOf":[ref("Stats"),ref("WindowStats")]}),**E},
   params=[q("window",{"type":"string","examples":["1h"]},"a duration (15m, 1h, 7d): report this window's finished attempts"),
     q("stuck_after",{"type":"string","examples":["10m"]},"with window: a running job is stuck after this (default: its pool's timeout)")],tag="jobs")},
"/pools":{"get":op("Pools and their workers (pid, busy, current job, RSS, jobs done), as `ctl status`'s pools",{"200":r("pools",{"type":"object","properties":{"pools":{"type":"array","items":ref("Pool")}}}),**E},tag="pools")},
"/pools/{name}/scale":{"post":op("Pin a pool's worker count (min ≤ N ≤ max) or return it to autoscaling",{"200":r("scaled",{"type":"object","properties":{"pool":{"type":"string"},"target":{"type":"integer"},"auto":{"type":"boolean"}}}),**E,"404":err,"413":err,"415":err,"422":err},
   params=[namep],body={"required":True,"content":{"application/json":{"schema":{"type":"object","properties":{"workers":{"oneOf":[{"type":"integer","minimum":0},{"const":"auto"}]}},"required":["workers"],"additionalProperties":False}}}},tag="pools")},
"/pools/{name}/drain":{"post":op("Quiet mode: stop dispatching, let running jobs finish",{"200":r("pools affected",{"type":"object","properties":{"pools":{"type":"array","items":{"type":"string"}}}}),**E,"404":err},params=[namep],tag="pools")},
"/pools/{name}/resume":{"post":op("End quiet mode",{"200":r("pools affected",{"type":"object","properties":{"pools":{"type":"array","items":{"type":"string"}}}}),**E,"404":err},params=[namep],tag="pools")},
"/reload":{"post":op("Re-read the config file; a bad one is refused (422) and the old one stays",{"200":r("reloaded",{"type":"object"}),**E,"422":err},tag="pools")},
"/livez":{"get":{**op("The loop turns (the watchdog's condition); no token needed",{"200":r("alive",{"type":"object"}),"503":r("stalled",{"type":"object"})},tag="health"),"security":[]}},
"/readyz":{"get":op("Ready: every pool has its min workers (running, draining or drained) and the store can be written",{"200":r("ready",{"type":"object"}),"503":r("starting or stopping, or the store cannot be written (reason)",{"type":"object"}),"401":err},tag="health")},
"/health":{"get":op("healthy | degraded (200) | unhealthy (503), with reasons",{"200":r("healthy or degraded",ref("Health")),"503":r("unhealthy",ref("Health")),"401":err},tag="health")},
"/metrics":{"get":op("Prometheus text (CONTRACT.md, Metrics)",{"200":r("metrics",{"type":"string"},"text/plain"),"401":err},tag="health")},
"/openapi.json":{"get":op("This document",{"200":r("OpenAPI 3.1",{"type":"object"}),"401":err},tag="meta")}},
"components":{
 "securitySchemes":{"bearer":{"type":"http","scheme":"bearer"}},
 "responses":{"Error":{"description":"refused","content":{"application/json":{"schema":ref("Error")}}}},
 "schemas":{
  "Error":{"type":"object","properties":{"error":{"type":"string"},"field":{"type":"string"}},"required":["error"]},
  "EnqueueRequest":{"type":"object","additionalProperties":False,"required":["type"],"properties":{
    "type":{"type":"string","minLength":1},"payload":{"type":"object"},"priority":{"type":"integer","minimum":-1000000,"maximum":1000000},
    "delay":{"type":"string","examples":["30s"]},"at":ts,"max_attempts":{"type":"integer","minimum":1,"maximum":1000000},
    "unique_key":{"type":"string","minLength":1},"backoff":{"type":"object","properties":{"base":{"type":"string"},"cap":{"type":"string"}},"required":["base","cap"]},
    "ref":{"type":"string","minLength":1,"description":"a name the after of other jobs of the same batch may use"},
    "after":{"type":"array","items":{"oneOf":[{"type":"integer","minimum":1},{"type":"string","minLength":1}]},"description":"parents: existing job ids, or refs of the same batch (before or after); the job is waiting until every one completed; unknown ids or refs and cycles are refused"},
    "on_parent_failure":{"type":"string","enum":["cancel","run"],"default":"cancel","description":"what a dead or cancelled parent does: cancel this job, or run it once no parent is unfinished"},
    "limit_key":{"type":"string","maxLength":1024,"description":"the key its pool's concurrency_limit and rate count it under, instead of the payload field the pool names (CLI --key)"},
    "traceparent":{"type":"string","description":"a W3C trace context the job's attempts join (default: the request's traceparent header)"}}},
  "Job":{"type":"object","required":["id","type","state","priority","attempts","max_attempts","payload","progress","errors","created_at","run_at","started_at","finished_at"],"properties":{
    "id":{"type":"integer"},"type":{"type":"string"},"state":{"type":"string"},"priority":{"type":"integer"},"attempts":{"type":"integer"},"max_attempts":{"type":"integer"},
    "payload":{"type":"object"},"progress":{"type":"integer"},"errors":{"type":"array","items":{"type":"object","properties":{"attempt":{"type":"integer"},"message":{"type":"string"},"at":ts,"worker_pid":{"type":["integer","null"]}}}},
    "created_at":ts,"run_at":ts,"started_at":{"type":["string","null"]},"finished_at":{"type":["string","null"]},"unique_key":{"type":["string","null"]},"worker_pid":{"type":["integer","null"]},"cancel_requested":{"type":"boolean"},"cancel":{"type":"string","enum":["cancelled","requested"]},
    "on_parent_failure":{"type":"string","enum":["cancel","run"]},
    "limit_key":{"type":["string","null"],"description":"the key its pool's limits count it under, once known"},
    "held":{"type":"boolean","description":"a queued job a limit holds out of the claim order (why says which)"},
    "traceparent":{"type":["string","null"],"description":"the W3C trace context it was enqueued with"},
    "result":{"description":"a completed job's result: the JSON its handler set (Swift: context.setResult; exec: a RESULT <json> line), null when none"},
    "parents":{"type":"array","items":ref("JobLink")},"children":{"type":"array","items":ref("JobLink")},
    "why":{"type":["string","null"],"description":"what holds a waiting job, e.g. waiting on parents #12, #13 (1 of 3 done)"},
    "cpu_seconds":{"type":["number","null"],"description":"CPU seconds (user + system) its last reporting attempt used, as its worker measured (an exec job: its command's); null when unknown"},
    "peak_rss_bytes":{"type":["integer","null"],"description":"peak resident set size in bytes of its last reporting attempt; null when unknown"}}},
  "Alert":{"type":"object","required":["id","alert","severity","state","message","fired_at","notified_at","notifications"],"properties":{
    "id":{"type":"integer"},"alert":{"type":"string"},"severity":{"type":"string","enum":["warning","critical"]},"state":{"type":"string","enum":["firing","resolved"]},
    "pool":{"type":["string","null"]},"job":{"type":["integer","null"]},"subject":{"type":["string","null"]},"message":{"type":"string"},"details":{"description":"the webhook body of the firing"},
    "fired_at":ts,"resolved_at":{"type":["string","null"]},"acknowledged_at":{"type":["string","null"]},"acknowledged_by":{"type":["string","null"]},"notified_at":ts,"notifications":{"type":"integer"}}},
  "JobLink":{"type":"object","properties":{"id":{"type":"integer"},"state":{"type":["string","null"],"description":"null: pruned"}},"required":["id","state"]},
  "JobPage":{"type":"object","properties":{"jobs":{"type":"array","items":ref("Job")},"next":{"type":["string","null"]}},"required":["jobs"]},
  "Stats":{"type":"object","properties":{k:{"type":"integer"} for k in ["waiting","scheduled","queued","running","completed","cancelled","dead"]}},
  "WindowStats":{"type":"object","properties":{"window_seconds":{"type":"integer"},"since":ts,"now":ts,
    **COUNTS,"run_ms":TIMING,"wait_ms":TIMING,
    "last_finished_at":{"oneOf":[ts,{"type":"null"}]},"minutes_since_last_finish":{"type":["number","null"]},
    "stuck":{"type":"array","items":{"type":"object","properties":{"id":{"type":"integer"},"type":{"type":"string"},"started_at":ts,"running_seconds":{"type":"integer"}}}},
    "types":{"type":"array","items":{"type":"object","properties":{"type":{"type":"string"},**COUNTS,"run_ms":TIMING,"wait_ms":TIMING}}},
    "priorities":{"type":"array","items":{"type":"object","properties":{"priority":{"type":"integer"},**COUNTS}}}}},
  "Pool":{"type":"object","properties":{"name":{"type":"string"},"target":{"type":"integer"},"min":{"type":"integer"},"max":{"type":"integer"},"auto":{"type":"boolean"},"paused":{"type":"boolean"},"crash_looping":{"type":"boolean"},"types":{"type":"array","items":{"type":"string"}},
    "workers":{"type":"array","items":{"type":"object","properties":{"pid":{"type":"integer"},"busy":{"type":"boolean"},"jobs_done":{"type":"integer"},"ready":{"type":"boolean"},"retiring":{"type":"boolean"},"job":{"type":["integer","null"]},"job_running_ms":{"type":["number","null"],"description":"how long the current job has run"},"claimed":{"type":"array","items":{"type":"integer"},"description":"jobs handed to the worker, not started (prefetched)"},"rss_bytes":{"type":["integer","null"],"description":"the worker process's resident set size, sampled every 2 s; null before the first sample"},"cpu_seconds":{"type":["number","null"],"description":"CPU seconds the worker process has used (its reaped exec commands' included), sampled every 2 s"}}}}}},
  "Health":{"type":"object","properties":{"status":{"type":"string","enum":["healthy","degraded","unhealthy"]},"reasons":{"type":"array","items":{"type":"string"}}},"required":["status","reasons"]}}}}
text=json.dumps(doc,indent=2,ensure_ascii=False)
open(ROOT+'/docs/openapi.json','w').write(text+"\n")
swift='''/// The API's OpenAPI 3.1 document, served at `GET /openapi.json`. Generated from
/// `docs/openapi.json` (the copy to read and to feed tools) by `scripts/openapi.py`; a
/// test checks the two are equal and that the document and the server's routes match.
enum OpenAPIDocument {
  static let json = #"""
'''+text+'''
"""#
}
'''
open(ROOT+'/Sources/DroverHTTP/OpenAPIDocument.swift','w').write(swift)
