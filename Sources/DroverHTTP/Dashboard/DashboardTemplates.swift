import Mustache

/// The dashboard's templates, compiled into the binary (nothing read from disk or fetched at
/// run time). `{{ }}` escapes; `{{{ }}}` is used only for HTML the server itself built (the
/// page body inside the layout, the SVG charts of numbers), never for stored text.
enum DashboardTemplates {
  static let library: MustacheLibrary = {
    var lib = MustacheLibrary()
    let all: [(String, String)] = [
      ("layout", layout), ("overview", overview), ("jobs", jobs), ("confirm", confirm),
      ("job", job), ("processes", processes), ("schedules", schedules), ("metrics", metrics),
      ("audit", audit), ("login", login), ("error", error),
    ]
    for (name, text) in all {
      // The templates are constants of this file: one that does not parse is a bug here.
      try! lib.register(text, named: name)
    }
    return lib
  }()

  static let layout = """
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <title>{{title}} · Drover</title>
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <link rel="stylesheet" href="/ui/assets/dashboard.css">
    <script src="/ui/assets/dashboard.js" defer></script>
    </head>
    <body>
    <header><nav>
    <a href="/ui" class="brand">Drover</a>
    <a href="/ui">Overview</a> <a href="/ui/jobs">Jobs</a> <a href="/ui/processes">Processes</a>
    <a href="/ui/schedules">Schedules</a> <a href="/ui/metrics">Metrics</a> <a href="/ui/audit">Audit</a>
    <span class="who">as {{who}}</span>
    {{#loggedIn}}<form method="post" action="/ui/logout" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button>Log out</button></form>{{/loggedIn}}
    </nav></header>
    {{#flash}}<div id="flash" role="status">{{.}}</div>{{/flash}}
    {{{body}}}
    </body>
    </html>
    """

  static let overview = """
    <main id="page-overview">
    <h1>Overview <small>supervisor {{pid}}, {{state}}</small></h1>
    <p class="live">Live: <span data-live="events.count">0</span> events since load; last: <span data-live="last-event">—</span></p>
    <section class="charts">
    <figure><figcaption>Throughput, last hour (jobs/min; {{completedHour}} completed)</figcaption>{{{throughputChart}}}</figure>
    <figure><figcaption>Error rate, last hour ({{failedHour}} failed of {{finishedHour}})</figcaption>{{{errorChart}}}</figure>
    </section>
    <h2>Pools</h2>
    <table class="pools"><thead><tr><th>Pool</th><th>State</th><th>Target</th><th>Busy</th><th>Idle</th><th>Starting</th><th>Retiring</th><th>Backlog</th><th>Oldest</th></tr></thead>
    <tbody>
    {{#pools}}<tr data-pool="{{name}}"><td><a href="/ui/processes#pool-{{name}}">{{name}}</a></td><td data-live="pool.{{name}}.state" class="pool-{{state}}">{{state}}</td><td>{{target}}{{#auto}} (auto){{/auto}}</td><td data-live="pool.{{name}}.busy">{{busy}}</td><td data-live="pool.{{name}}.idle">{{idle}}</td><td data-live="pool.{{name}}.starting">{{starting}}</td><td data-live="pool.{{name}}.retiring">{{retiring}}</td><td data-live="pool.{{name}}.backlog">{{backlog}}</td><td>{{oldest}}</td></tr>
    {{/pools}}
    </tbody></table>
    <h2>Queues</h2>
    <table class="queues"><thead><tr><th>Type</th><th>Ready</th><th>Oldest ready</th><th>Scheduled</th><th>Waiting</th><th>Running</th><th>Completed</th><th>Dead</th></tr></thead>
    <tbody>
    {{#queues}}<tr data-type="{{type}}"><td><a href="/ui/jobs?type={{type}}">{{type}}</a></td><td data-live="queue.{{type}}.depth">{{depth}}</td><td>{{oldest}}</td><td>{{scheduled}}</td><td>{{waiting}}</td><td data-live="queue.{{type}}.running">{{running}}</td><td>{{completed}}</td><td><a href="/ui/jobs?state=dead&amp;type={{type}}">{{dead}}</a></td></tr>
    {{/queues}}
    {{^queues}}<tr><td colspan="8">No jobs yet.</td></tr>{{/queues}}
    </tbody></table>
    <h2>Recent failures</h2>
    <table class="failures"><thead><tr><th>Job</th><th>Type</th><th>State</th><th>When</th><th>Error</th></tr></thead>
    <tbody>
    {{#failures}}<tr data-job-id="{{id}}" data-state="{{state}}"><td><a href="/ui/jobs/{{id}}">{{id}}</a></td><td>{{type}}</td><td class="state state-{{state}}">{{state}}</td><td>{{when}}</td><td class="error">{{error}}</td></tr>
    {{/failures}}
    {{^failures}}<tr><td colspan="5">None.</td></tr>{{/failures}}
    </tbody></table>
    </main>
    """

  static let jobs = """
    <main id="page-jobs">
    <h1>Jobs</h1>
    <form method="get" action="/ui/jobs" class="filters">
    <label>State <select name="state"><option value="">any</option>{{#states}}<option value="{{name}}"{{#selected}} selected{{/selected}}>{{name}}</option>{{/states}}</select></label>
    <label>Type <input name="type" value="{{type}}"></label>
    <label>Created from <input name="from" value="{{from}}" placeholder="2026-12-07T00:00:00Z"></label>
    <label>to <input name="to" value="{{to}}" placeholder="RFC 3339"></label>
    <label>Payload text <input name="q" value="{{q}}"></label>
    <button>Filter</button> <a href="/ui/jobs">Clear</a>
    </form>
    {{#error}}<p class="error" id="filter-error">{{.}}</p>{{/error}}
    {{#canAct}}<form id="bulk" method="post" action="/ui/actions/cancel">
    <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="back" value="{{back}}">
    {{#filterFields}}<input type="hidden" name="{{key}}" value="{{value}}">{{/filterFields}}
    <div class="bulk">Selected:
    <button data-action="cancel" formaction="/ui/actions/cancel">Cancel</button>
    <button data-action="retry" formaction="/ui/actions/retry">Retry</button>
    <button data-action="requeue" formaction="/ui/actions/requeue">Requeue dead</button>
    · Everything matching the filter:
    <button name="scope" value="filter" data-action="cancel" data-scope="filter" formaction="/ui/actions/cancel">Cancel…</button>
    <button name="scope" value="filter" data-action="retry" data-scope="filter" formaction="/ui/actions/retry">Retry…</button>
    <button name="scope" value="filter" data-action="requeue" data-scope="filter" formaction="/ui/actions/requeue">Requeue dead…</button>
    </div>{{/canAct}}
    <table class="jobs"><thead><tr>{{#canAct}}<th><input type="checkbox" data-select-all aria-label="select every job on this page"></th>{{/canAct}}<th>Id</th><th>Type</th><th>State</th><th>Attempts</th><th>Created</th><th>Payload</th><th>Last error</th></tr></thead>
    <tbody>
    {{#jobs}}<tr data-job-id="{{id}}" data-state="{{state}}">{{#canAct}}<td><input type="checkbox" name="id" value="{{id}}"></td>{{/canAct}}<td><a href="/ui/jobs/{{id}}">{{id}}</a></td><td>{{type}}</td><td class="state state-{{state}}">{{state}}</td><td>{{attempts}}/{{maxAttempts}}</td><td title="{{createdAt}}">{{created}}</td><td class="payload">{{payload}}</td><td class="error">{{lastError}}</td></tr>
    {{/jobs}}
    {{^jobs}}<tr><td colspan="8">No jobs match.</td></tr>{{/jobs}}
    </tbody></table>
    {{#canAct}}</form>{{/canAct}}
    <p class="pager">{{#first}}<a id="first-page" href="/ui/jobs?{{first}}">← First</a>{{/first}} {{#next}}<a id="next-page" href="/ui/jobs?{{next}}">Next →</a>{{/next}}</p>
    </main>
    """

  static let confirm = """
    <main id="page-jobs">
    <h1>Confirm: {{action}} everything matching</h1>
    <p><span id="dry-run-count">{{count}}</span>{{#capped}} or more{{/capped}} jobs match {{filterText}}; {{#capped}}at most {{cap}} are changed per confirmation; {{/capped}}nothing has been changed yet.</p>
    <form method="post" action="/ui/actions/{{action}}" data-action="{{action}}" data-confirm="{{count}}">
    <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="back" value="{{backTo}}">
    <input type="hidden" name="scope" value="filter"><input type="hidden" name="confirm" value="yes">
    {{#filterFields}}<input type="hidden" name="{{key}}" value="{{value}}">{{/filterFields}}
    <button>Yes, {{action}} {{count}} jobs</button> <a href="{{backTo}}">No, go back</a>
    </form>
    </main>
    """

  static let job = """
    <main id="page-job">
    <h1>Job {{id}} <span class="state state-{{state}}">{{state}}</span></h1>
    <p id="job-why">{{why}}</p>
    <p><progress id="job-progress" max="100" value="{{progress}}">{{progress}}%</progress> {{progress}}%</p>
    <dl class="facts">
    <dt>Type</dt><dd>{{type}}</dd><dt>Priority</dt><dd>{{priority}}</dd>
    <dt>Attempts</dt><dd>{{attempts}} of {{maxAttempts}}</dd>
    <dt>Created</dt><dd>{{createdAt}}</dd><dt>Run at</dt><dd>{{runAt}}</dd>
    {{#startedAt}}<dt>Started</dt><dd>{{.}}</dd>{{/startedAt}}
    {{#finishedAt}}<dt>Finished</dt><dd>{{.}}</dd>{{/finishedAt}}
    {{#workerPID}}<dt>Worker pid</dt><dd>{{.}}</dd>{{/workerPID}}
    {{#uniqueKey}}<dt>Unique key</dt><dd>{{.}}</dd>{{/uniqueKey}}
    {{#limitKey}}<dt>Limit key</dt><dd>{{.}}</dd>{{/limitKey}}
    {{#result}}<dt>Result</dt><dd><code>{{.}}</code></dd>{{/result}}
    </dl>
    {{#canAct}}<div class="actions">
    {{#canCancel}}<form method="post" action="/ui/jobs/{{id}}/cancel" data-action="cancel" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="back" value="{{back}}"><button>Cancel</button></form>{{/canCancel}}
    {{#canRetry}}<form method="post" action="/ui/jobs/{{id}}/retry" data-action="retry" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="back" value="{{back}}"><button>Retry</button></form>{{/canRetry}}
    {{#canRequeue}}<form method="post" action="/ui/jobs/{{id}}/requeue" data-action="requeue" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="back" value="{{back}}"><button>Requeue</button></form>{{/canRequeue}}
    </div>{{/canAct}}
    <h2>Payload</h2>
    <pre id="job-payload">{{payload}}</pre>
    <h2>Attempts</h2>
    <table class="attempts"><thead><tr><th>Attempt</th><th>At</th><th>Worker pid</th><th>Error</th></tr></thead><tbody>
    {{#errors}}<tr data-attempt="{{attempt}}"><td>{{attempt}}</td><td>{{at}}</td><td>{{pid}}</td><td class="error">{{message}}</td></tr>
    {{/errors}}
    {{^errors}}<tr><td colspan="4">No failed attempts.</td></tr>{{/errors}}
    </tbody></table>
    <h2>Parents</h2>
    <p>{{#parents}}<a data-job-link="{{id}}" href="/ui/jobs/{{id}}">{{id}}</a> ({{state}}) {{/parents}}{{^parents}}None.{{/parents}}</p>
    <h2>Children</h2>
    <p>{{#children}}<a data-job-link="{{id}}" href="/ui/jobs/{{id}}">{{id}}</a> ({{state}}) {{/children}}{{^children}}None.{{/children}}</p>
    </main>
    """

  static let processes = """
    <main id="page-processes">
    <h1>Processes</h1>
    <ul class="tree">
    <li><span class="node">systemd</span> <span id="systemd-unit">{{unit}}</span>
    <ul><li><span class="node">supervisor</span> pid <span id="supervisor-pid">{{pid}}</span>, {{state}}
    <ul>
    {{#pools}}<li><section data-pool="{{name}}" id="pool-{{name}}">
    <h2>{{name}} <small class="pool-{{state}}">{{state}}</small></h2>
    <p>target {{target}}{{#auto}} (auto){{/auto}}, min {{min}}, max {{max}}; types {{types}}</p>
    {{#canAct}}<div class="actions">
    <form method="post" action="/ui/pools/{{name}}/scale" data-action="scale" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="back" value="{{back}}"><input name="workers" size="4" value="{{target}}" aria-label="workers (N or auto)"><button>Scale</button></form>
    {{#paused}}<form method="post" action="/ui/pools/{{name}}/resume" data-action="resume" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="back" value="{{back}}"><button>Resume</button></form>{{/paused}}
    {{^paused}}<form method="post" action="/ui/pools/{{name}}/drain" data-action="drain" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="back" value="{{back}}"><button>Drain</button></form>{{/paused}}
    </div>{{/canAct}}
    <table class="workers"><thead><tr><th>Pid</th><th>State</th><th>RSS</th><th>CPU</th><th>Current job</th><th>Running for</th><th>Jobs done</th></tr></thead><tbody>
    {{#workers}}<tr data-worker-pid="{{pid}}"><td>{{pid}}</td><td>{{state}}</td><td>{{rss}}</td><td>{{cpu}}</td><td>{{#job}}<a href="/ui/jobs/{{.}}">{{.}}</a>{{/job}}</td><td>{{runningFor}}</td><td>{{jobsDone}}</td></tr>
    {{/workers}}
    {{^workers}}<tr><td colspan="7">No workers.</td></tr>{{/workers}}
    </tbody></table>
    </section></li>
    {{/pools}}
    </ul></li></ul></li></ul>
    </main>
    """

  static let schedules = """
    <main id="page-schedules">
    <h1>Schedules</h1>
    <table class="schedules"><thead><tr><th>Name</th><th>Rule</th><th>Zone</th><th>Job type</th><th>State</th><th>Last slot</th><th>Next fires</th></tr></thead><tbody>
    {{#schedules}}<tr data-schedule="{{name}}"><td>{{name}}</td><td><code>{{rule}}</code></td><td>{{zone}}</td><td>{{type}}</td><td>{{state}}{{#canAct}}<br>
    {{#paused}}<form method="post" action="/ui/schedules/{{name}}/resume" data-action="resume" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="back" value="{{back}}"><button>Resume</button></form>{{/paused}}
    {{^paused}}<form method="post" action="/ui/schedules/{{name}}/pause" data-action="pause" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="back" value="{{back}}"><button>Pause</button></form>{{/paused}}
    <form method="post" action="/ui/schedules/{{name}}/trigger" data-action="trigger" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="back" value="{{back}}"><button>Trigger now</button></form>{{/canAct}}</td><td>{{last}}</td><td><ul class="fires">{{#fires}}<li title="{{utc}}">{{local}}{{#dst}} <abbr class="dst" data-dst="{{dst}}" title="{{dst}}">DST</abbr>{{/dst}}</li>{{/fires}}</ul></td></tr>
    {{/schedules}}
    {{^schedules}}<tr><td colspan="7">No schedules configured.</td></tr>{{/schedules}}
    </tbody></table>
    <h2>Limits</h2>
    <table class="limits"><thead><tr><th>Pool</th><th>Limits</th><th>Key</th><th>Running (holders)</th><th>Held</th></tr></thead><tbody>
    {{#limits}}<tr data-limit-pool="{{pool}}"><td>{{pool}}</td><td>{{rules}}</td><td>{{key}}</td><td>{{holders}}</td><td>{{held}}</td></tr>
    {{/limits}}
    {{^limits}}<tr><td colspan="5">No limits configured.</td></tr>{{/limits}}
    </tbody></table>
    </main>
    """

  static let metrics = """
    <main id="page-metrics">
    <h1>Metrics history</h1>
    <p class="ranges">{{#ranges}}<a href="/ui/metrics?range={{name}}"{{#selected}} aria-current="page"{{/selected}} data-range="{{name}}">{{name}}</a> {{/ranges}} · buckets of {{bucket}}</p>
    <figure><figcaption>Completed per bucket ({{completed}} in all)</figcaption>{{{throughputChart}}}</figure>
    <figure><figcaption>Failures per bucket (failed and dead: {{failures}})</figcaption>{{{failureChart}}}</figure>
    <figure><figcaption>Mean queue wait (ms)</figcaption>{{{waitChart}}}</figure>
    </main>
    """

  static let audit = """
    <main id="page-audit">
    <h1>Audit log</h1>
    <table class="audit"><thead><tr><th>Id</th><th>At</th><th>Who</th><th>Action</th><th>Target</th><th>Count</th></tr></thead><tbody>
    {{#entries}}<tr data-audit-id="{{id}}" data-audit-action="{{action}}"><td>{{id}}</td><td>{{at}}</td><td>{{who}}</td><td>{{action}}</td><td>{{target}}</td><td>{{count}}</td></tr>
    {{/entries}}
    {{^entries}}<tr><td colspan="6">Nothing done from the dashboard yet.</td></tr>{{/entries}}
    </tbody></table>
    {{#next}}<p class="pager"><a id="next-page" href="/ui/audit?after={{.}}">Older →</a></p>{{/next}}
    </main>
    """

  static let login = """
    <main id="page-login">
    <h1>Log in</h1>
    {{#failed}}<p class="error" id="login-error">That token is not valid.</p>{{/failed}}
    <form id="login" method="post" action="/ui/login">
    <label>Token <input name="token" type="password" autocomplete="current-password" autofocus></label>
    <button>Log in</button>
    </form>
    <p>The HTTP API's <code>token</code> may act; its <code>read_token</code> may only look.</p>
    </main>
    """

  static let error = """
    <main id="page-error">
    <h1>{{status}}</h1>
    <p class="error">{{message}}</p>
    <p><a href="/ui">Back to the overview</a></p>
    </main>
    """
}
