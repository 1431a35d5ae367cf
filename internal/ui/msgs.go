package ui

// msgsEN is the English catalog, the reference: every key here must be in
// every other catalog.
var msgsEN = map[string]string{
	"app.title": "Tollgate console", "nav.overview": "Overview", "nav.requests": "Live requests", "nav.keys": "Keys",
	"nav.users": "Users", "nav.teams": "Teams", "nav.budgets": "Budgets", "nav.limits": "Limits", "nav.usage": "Usage explorer",
	"nav.signout": "Sign out", "nav.signedin": "Signed in as %s (%s)", "nav.lang": "Language",

	"signin.title": "Sign in", "signin.adminkey": "Admin key", "signin.adminkey.help": "The gateway's admin key (TOLLGATE_ADMIN_KEY).",
	"signin.withkey": "Sign in with admin key", "signin.name": "Name", "signin.password": "Password",
	"signin.withaccount": "Sign in", "signin.or": "or",

	"err.title": "Error %d", "err.notfound": "This page does not exist.", "err.signin": "Your session has ended: sign in again.",
	"err.internal":    "Something went wrong on the gateway; the details are in its log.",
	"err.csrf":        "This form has expired or did not come from the console. Reload the page and try again.",
	"err.origin":      "This request came from another site and was refused.",
	"err.plainhttp":   "Signing in over plain HTTP is only allowed on loopback. Serve the gateway over TLS, or behind a TLS proxy that sets X-Forwarded-Proto: https.",
	"err.credentials": "Those credentials were not accepted.", "err.back": "Back to the overview",

	"ok.created": "Created.", "ok.saved": "Saved.", "ok.deleted": "Deleted.", "ok.rotated": "Rotated.",

	"overview.title": "Overview", "overview.today": "Today (UTC)", "overview.period": "This month (UTC)",
	"overview.spend": "Spend", "overview.tokens": "Tokens", "overview.requests": "Requests", "overview.errors": "Errors",
	"overview.chart": "Spend per day over the last 14 days, by %s", "overview.top": "Top spenders this month",
	"overview.budgets": "Budgets", "overview.nodata": "No usage yet.", "overview.live": "Updates every few seconds.",
	"chart.label": "Spend by %s over time",

	"by.key": "key", "by.user": "user", "by.team": "team", "by.model": "model", "by.tag": "tag", "by.session": "session",

	"col.time": "Time", "col.key": "Key", "col.user": "User", "col.team": "Team", "col.model": "Model",
	"col.tokens": "Tokens", "col.input": "Input", "col.output": "Output", "col.cachewrite": "Cache write",
	"col.cacheread": "Cache read", "col.cost": "Cost", "col.latency": "Latency", "col.ttft": "Time to first token",
	"col.status": "Status", "col.origin": "Error origin", "col.session": "Session", "col.tags": "Tags",
	"col.alias": "Alias", "col.prefix": "Prefix", "col.owner": "Owner", "col.models": "Models", "col.expires": "Expires",
	"col.lastused": "Last used", "col.actions": "Actions", "col.name": "Name", "col.email": "Email", "col.teams": "Teams",
	"col.members": "Members", "col.scope": "Scope", "col.limit": "Limit", "col.spent": "Spent", "col.period": "Period",
	"col.thresholds": "Thresholds", "col.resets": "Resets", "col.rpm": "Requests/min", "col.tpm": "Tokens/min",
	"col.concurrent": "Concurrent", "col.group": "Group", "col.errors": "Errors", "col.requests": "Requests",
	"col.created": "Created",

	"status.active": "active", "status.disabled": "disabled", "status.expired": "expired", "all": "all", "none": "—",
	"any": "any",

	"requests.title": "Live requests", "requests.errorsonly": "Errors only", "requests.filter": "Filter",
	"requests.older": "Older calls", "requests.live": "New calls appear as they finish.", "requests.empty": "No calls yet.",

	"request.title": "Call %s", "request.timings": "Timings", "request.usage": "Usage by token kind",
	"request.attribution": "Attribution", "request.routing": "Routing", "request.requestid": "Request id",
	"request.provider": "Provider", "request.region": "Region", "request.door": "Front door", "request.stream": "Streamed",
	"request.modelrequested": "Model requested", "request.upstreammodel": "Upstream model", "request.total": "Total",
	"request.unpriced":   "No price was known for this model.",
	"request.upstreamid": "Upstream request id", "request.error": "Error",
	"yes": "yes", "no": "no",

	"keys.title": "Keys", "keys.new": "New key", "keys.create": "Create key",
	"keys.secret.title": "Key %s created", "keys.rotated.title": "Key %s rotated",
	"keys.secret.once":       "This is the only time the secret is shown. Copy it now: the gateway keeps only its hash.",
	"keys.snippet.anthropic": "Claude Code, Anthropic mode", "keys.snippet.helper": "Claude Code, apiKeyHelper in settings.json",
	"keys.snippet.bedrock": "Claude Code, Bedrock mode", "keys.snippet.actions": "GitHub Actions (anthropics/claude-code-action)",
	"keys.snippet.actions.help": "Store the secret as the repository secret TOLLGATE_API_KEY and the gateway URL as the variable TOLLGATE_URL.",
	"keys.edit":                 "Edit key", "keys.rotate": "Rotate secret", "keys.overlap": "Old secret keeps working for",
	"keys.disable": "Disable", "keys.enable": "Enable", "keys.delete": "Delete key", "keys.back": "All keys",
	"keys.previous": "The previous secret works until %s.",

	"field.alias": "Alias", "field.user": "User", "field.team": "Team", "field.models": "Models",
	"field.models.help": "Comma-separated; empty allows every model.", "field.expiresin": "Expires in (e.g. 30d, 12h)",
	"field.budgetusd": "Budget (USD)", "field.period": "Period", "field.tags": "Tags (k=v, comma-separated)",
	"field.name": "Name", "field.email": "Email", "field.scopekind": "Applies to", "field.scope": "Key, user or team (name or id)",
	"field.limitusd": "Limit (USD)", "field.limittokens": "Limit (tokens)", "field.timezone": "Time zone",
	"field.thresholds": "Alert thresholds (% , comma-separated)", "field.rpm": "Requests per minute",
	"field.tpm": "Tokens per minute", "field.concurrent": "Concurrent calls", "field.member": "User (name or id)",
	"field.by": "Group by", "field.range": "Range", "field.granularity": "Granularity", "field.tag": "Tag name",
	"field.filter.model": "Model",

	"period.day": "day", "period.week": "week", "period.month": "month", "period.total": "total",
	"gran.hour": "hourly", "gran.day": "daily", "gran.total": "total",
	"range.24h": "last 24 hours", "range.7d": "last 7 days", "range.30d": "last 30 days", "range.90d": "last 90 days",

	"save": "Save", "create": "Create", "delete": "Delete", "copy": "Copy", "copied": "Copied",
	"disable": "Disable", "enable": "Enable", "add": "Add", "remove": "Remove", "edit": "Edit", "apply": "Apply",

	"users.title": "Users", "users.new": "New user", "teams.title": "Teams", "teams.new": "New team", "teams.addmember": "Add member",
	"budgets.title": "Budgets", "budgets.new": "New budget", "budgets.edit": "Edit budget", "budgets.back": "All budgets",
	"budgets.bar": "%s of %s", "limits.title": "Rate limits", "limits.new": "New limit",
	"usage.title": "Usage explorer", "usage.run": "Show", "usage.csv": "Download CSV", "usage.empty": "No usage in this range.",
	"usage.total": "Total", "page.next": "Next page",
	"usage.hourcap": "Hourly buckets cover the last 24 hours; choose daily buckets for longer ranges.",
}

// msgsJA is the Japanese catalog.
var msgsJA = map[string]string{
	"app.title": "Tollgate コンソール", "nav.overview": "概要", "nav.requests": "ライブリクエスト", "nav.keys": "キー",
	"nav.users": "ユーザー", "nav.teams": "チーム", "nav.budgets": "予算", "nav.limits": "レート制限", "nav.usage": "使用量エクスプローラー",
	"nav.signout": "サインアウト", "nav.signedin": "%s としてサインイン中（%s）", "nav.lang": "言語",

	"signin.title": "サインイン", "signin.adminkey": "管理者キー", "signin.adminkey.help": "ゲートウェイの管理者キー（TOLLGATE_ADMIN_KEY）。",
	"signin.withkey": "管理者キーでサインイン", "signin.name": "名前", "signin.password": "パスワード",
	"signin.withaccount": "サインイン", "signin.or": "または",

	"err.title": "エラー %d", "err.notfound": "このページは存在しません。", "err.signin": "セッションが終了しました。もう一度サインインしてください。",
	"err.internal":    "ゲートウェイで問題が発生しました。詳細はゲートウェイのログにあります。",
	"err.csrf":        "このフォームは期限切れか、コンソールから送信されたものではありません。ページを再読み込みしてもう一度お試しください。",
	"err.origin":      "別のサイトから送信されたリクエストのため拒否しました。",
	"err.plainhttp":   "平文の HTTP でのサインインはループバックでのみ許可されています。ゲートウェイを TLS で提供するか、X-Forwarded-Proto: https を設定する TLS プロキシの背後に置いてください。",
	"err.credentials": "認証情報が受け付けられませんでした。", "err.back": "概要に戻る",

	"ok.created": "作成しました。", "ok.saved": "保存しました。", "ok.deleted": "削除しました。", "ok.rotated": "ローテーションしました。",

	"overview.title": "概要", "overview.today": "今日（UTC）", "overview.period": "今月（UTC）",
	"overview.spend": "支出", "overview.tokens": "トークン", "overview.requests": "リクエスト", "overview.errors": "エラー",
	"overview.chart": "過去 14 日間の日別支出（%s別）", "overview.top": "今月の支出上位",
	"overview.budgets": "予算", "overview.nodata": "まだ使用量はありません。", "overview.live": "数秒ごとに更新されます。",
	"chart.label": "%s別の支出の推移",

	"by.key": "キー", "by.user": "ユーザー", "by.team": "チーム", "by.model": "モデル", "by.tag": "タグ", "by.session": "セッション",

	"col.time": "時刻", "col.key": "キー", "col.user": "ユーザー", "col.team": "チーム", "col.model": "モデル",
	"col.tokens": "トークン", "col.input": "入力", "col.output": "出力", "col.cachewrite": "キャッシュ書き込み",
	"col.cacheread": "キャッシュ読み取り", "col.cost": "費用", "col.latency": "レイテンシ", "col.ttft": "最初のトークンまでの時間",
	"col.status": "ステータス", "col.origin": "エラーの発生元", "col.session": "セッション", "col.tags": "タグ",
	"col.alias": "エイリアス", "col.prefix": "プレフィックス", "col.owner": "所有者", "col.models": "モデル", "col.expires": "有効期限",
	"col.lastused": "最終使用", "col.actions": "操作", "col.name": "名前", "col.email": "メール", "col.teams": "チーム",
	"col.members": "メンバー", "col.scope": "対象", "col.limit": "上限", "col.spent": "使用済み", "col.period": "期間",
	"col.thresholds": "しきい値", "col.resets": "リセット", "col.rpm": "リクエスト/分", "col.tpm": "トークン/分",
	"col.concurrent": "同時実行数", "col.group": "グループ", "col.errors": "エラー", "col.requests": "リクエスト",
	"col.created": "作成日時",

	"status.active": "有効", "status.disabled": "無効", "status.expired": "期限切れ", "all": "すべて", "none": "—",
	"any": "すべて",

	"requests.title": "ライブリクエスト", "requests.errorsonly": "エラーのみ", "requests.filter": "絞り込み",
	"requests.older": "以前の呼び出し", "requests.live": "新しい呼び出しは完了すると表示されます。", "requests.empty": "まだ呼び出しはありません。",

	"request.title": "呼び出し %s", "request.timings": "タイミング", "request.usage": "トークン種別ごとの使用量",
	"request.attribution": "帰属", "request.routing": "ルーティング", "request.requestid": "リクエスト ID",
	"request.provider": "プロバイダー", "request.region": "リージョン", "request.door": "入口", "request.stream": "ストリーミング",
	"request.modelrequested": "要求されたモデル", "request.upstreammodel": "上流のモデル", "request.total": "合計",
	"request.unpriced":   "このモデルの価格は不明でした。",
	"request.upstreamid": "上流のリクエスト ID", "request.error": "エラー",
	"yes": "はい", "no": "いいえ",

	"keys.title": "キー", "keys.new": "新しいキー", "keys.create": "キーを作成",
	"keys.secret.title": "キー %s を作成しました", "keys.rotated.title": "キー %s をローテーションしました",
	"keys.secret.once":       "シークレットが表示されるのはこの一度だけです。今すぐコピーしてください。ゲートウェイはハッシュしか保存しません。",
	"keys.snippet.anthropic": "Claude Code（Anthropic モード）", "keys.snippet.helper": "Claude Code（settings.json の apiKeyHelper）",
	"keys.snippet.bedrock": "Claude Code（Bedrock モード）", "keys.snippet.actions": "GitHub Actions（anthropics/claude-code-action）",
	"keys.snippet.actions.help": "シークレットをリポジトリのシークレット TOLLGATE_API_KEY に、ゲートウェイの URL を変数 TOLLGATE_URL に保存してください。",
	"keys.edit":                 "キーを編集", "keys.rotate": "シークレットをローテーション", "keys.overlap": "古いシークレットの猶予期間",
	"keys.disable": "無効にする", "keys.enable": "有効にする", "keys.delete": "キーを削除", "keys.back": "すべてのキー",
	"keys.previous": "以前のシークレットは %s まで使えます。",

	"field.alias": "エイリアス", "field.user": "ユーザー", "field.team": "チーム", "field.models": "モデル",
	"field.models.help": "カンマ区切り。空欄ならすべてのモデルを許可します。", "field.expiresin": "有効期間（例: 30d、12h）",
	"field.budgetusd": "予算（米ドル）", "field.period": "期間", "field.tags": "タグ（k=v、カンマ区切り）",
	"field.name": "名前", "field.email": "メール", "field.scopekind": "適用先", "field.scope": "キー・ユーザー・チーム（名前または ID）",
	"field.limitusd": "上限（米ドル）", "field.limittokens": "上限（トークン）", "field.timezone": "タイムゾーン",
	"field.thresholds": "アラートのしきい値（%、カンマ区切り）", "field.rpm": "1 分あたりのリクエスト数",
	"field.tpm": "1 分あたりのトークン数", "field.concurrent": "同時呼び出し数", "field.member": "ユーザー（名前または ID）",
	"field.by": "グループ化", "field.range": "範囲", "field.granularity": "粒度", "field.tag": "タグ名",
	"field.filter.model": "モデル",

	"period.day": "日", "period.week": "週", "period.month": "月", "period.total": "通算",
	"gran.hour": "1 時間ごと", "gran.day": "1 日ごと", "gran.total": "合計",
	"range.24h": "過去 24 時間", "range.7d": "過去 7 日間", "range.30d": "過去 30 日間", "range.90d": "過去 90 日間",

	"save": "保存", "create": "作成", "delete": "削除", "copy": "コピー", "copied": "コピーしました",
	"disable": "無効にする", "enable": "有効にする", "add": "追加", "remove": "外す", "edit": "編集", "apply": "適用",

	"users.title": "ユーザー", "users.new": "新しいユーザー", "teams.title": "チーム", "teams.new": "新しいチーム", "teams.addmember": "メンバーを追加",
	"budgets.title": "予算", "budgets.new": "新しい予算", "budgets.edit": "予算を編集", "budgets.back": "すべての予算",
	"budgets.bar": "%[2]s 中 %[1]s", "limits.title": "レート制限", "limits.new": "新しい制限",
	"usage.title": "使用量エクスプローラー", "usage.run": "表示", "usage.csv": "CSV をダウンロード", "usage.empty": "この範囲に使用量はありません。",
	"usage.total": "合計", "page.next": "次のページ",
	"usage.hourcap": "1 時間ごとの集計は過去 24 時間のみです。より長い範囲には 1 日ごとを選んでください。",
}
