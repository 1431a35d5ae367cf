package ui

import "maps"

// The messages of the models, audit and admins pages, merged into the
// catalogs (kept apart so the older pages' catalog stays readable).
func init() {
	maps.Copy(msgsEN, map[string]string{
		"nav.models": "Models", "nav.audit": "Audit log", "nav.admins": "Admins",

		"models.title": "Models", "models.new": "New model", "models.model": "Model %s", "models.back": "All models",
		"models.test": "Test", "models.test.title": "Test of %s", "models.test.ok": "answered", "models.test.failed": "failed",
		"models.test.attempts": "%d attempt(s)", "models.served": "served", "models.notserved": "not served",
		"models.clash": "The config file's %s holds this name and wins.", "models.updated": "Last changed",
		"models.readonly.file":    "From the config file: change it there and reload (SIGHUP).",
		"models.readonly.catalog": "From the built-in catalog: add a database model to override it.",
		"models.readonly.pattern": "A pattern route of the config file.",
		"source.file":             "config file", "source.database": "database", "source.catalog": "catalog", "source.pattern": "pattern",
		"source.none": "no price known",
		"col.source":  "Source", "col.targets": "Targets", "col.price": "Price (USD/Mtok in / out)", "col.role": "Role",
		"col.lastlogin":     "Last sign-in",
		"field.displayname": "Display name", "field.targets": "Targets",
		"field.targets.help": "One a line: provider, upstream model id, optional weight (bedrock anthropic.claude-x 3).",
		"field.strategy":     "Strategy", "field.price": "Price (USD per million tokens)",
		"field.price.help": "Leave empty to use the catalog's price.", "field.cw5m": "Cache write 5m", "field.cw1h": "Cache write 1h",
		"field.teamsadmin": "Teams (team admins)", "field.teamsadmin.help": "Only for the team admin role.",

		"audit.title": "Audit log", "audit.actor": "Who (name or id)", "audit.action": "Action (keys.create, or keys.)",
		"audit.target": "Target (name or id)", "audit.since": "From", "audit.until": "Until", "audit.empty": "No changes match.",
		"audit.field": "Field", "audit.before": "Before", "audit.after": "After", "audit.older": "Older changes",
		"target.key": "key", "target.user": "user", "target.team": "team", "target.budget": "budget", "target.limit": "limit",
		"target.model": "model", "target.account": "admin account", "target.token": "API token",

		"admins.title": "Admins", "admins.accounts": "Admin accounts", "admins.tokens": "API tokens",
		"admins.newaccount": "New admin account", "admins.newtoken": "New API token", "admins.revoke": "Revoke",
		"admins.password.help":   "Leave empty to generate one.",
		"admins.created.account": "Account %s created", "admins.created.token": "Token %s created",
		"admins.once":    "This is the only time it is shown. Copy it now: the gateway keeps only its hash.",
		"status.revoked": "revoked",
		"role.owner":     "owner", "role.admin": "admin", "role.team_admin": "team admin", "role.viewer": "viewer",
	})
	maps.Copy(msgsJA, map[string]string{
		"nav.models": "モデル", "nav.audit": "監査ログ", "nav.admins": "管理者",

		"models.title": "モデル", "models.new": "新しいモデル", "models.model": "モデル %s", "models.back": "モデル一覧",
		"models.test": "テスト", "models.test.title": "%s のテスト", "models.test.ok": "応答あり", "models.test.failed": "失敗",
		"models.test.attempts": "試行 %d 回", "models.served": "提供中", "models.notserved": "提供されていません",
		"models.clash": "設定ファイルの %s が同じ名前を持ち、そちらが優先されます。", "models.updated": "最終変更",
		"models.readonly.file":    "設定ファイル由来：ファイルを変更して再読み込み（SIGHUP）してください。",
		"models.readonly.catalog": "組み込みカタログ由来：上書きするにはデータベースのモデルを追加してください。",
		"models.readonly.pattern": "設定ファイルのパターンルートです。",
		"source.file":             "設定ファイル", "source.database": "データベース", "source.catalog": "カタログ", "source.pattern": "パターン",
		"source.none": "価格不明",
		"col.source":  "出所", "col.targets": "ターゲット", "col.price": "価格（米ドル/100万トークン 入力 / 出力）", "col.role": "ロール",
		"col.lastlogin":     "最終サインイン",
		"field.displayname": "表示名", "field.targets": "ターゲット",
		"field.targets.help": "1 行に 1 つ：プロバイダー、上流モデル ID、任意の重み（bedrock anthropic.claude-x 3）。",
		"field.strategy":     "戦略", "field.price": "価格（100 万トークンあたりの米ドル）",
		"field.price.help": "空欄ならカタログの価格を使います。", "field.cw5m": "キャッシュ書き込み 5 分", "field.cw1h": "キャッシュ書き込み 1 時間",
		"field.teamsadmin": "チーム（チーム管理者）", "field.teamsadmin.help": "チーム管理者ロールのみ。",

		"audit.title": "監査ログ", "audit.actor": "実行者（名前または ID）", "audit.action": "操作（keys.create または keys.）",
		"audit.target": "対象（名前または ID）", "audit.since": "開始", "audit.until": "終了", "audit.empty": "該当する変更はありません。",
		"audit.field": "項目", "audit.before": "変更前", "audit.after": "変更後", "audit.older": "さらに古い変更",
		"target.key": "キー", "target.user": "ユーザー", "target.team": "チーム", "target.budget": "予算", "target.limit": "レート制限",
		"target.model": "モデル", "target.account": "管理者アカウント", "target.token": "API トークン",

		"admins.title": "管理者", "admins.accounts": "管理者アカウント", "admins.tokens": "API トークン",
		"admins.newaccount": "新しい管理者アカウント", "admins.newtoken": "新しい API トークン", "admins.revoke": "失効",
		"admins.password.help":   "空欄なら生成します。",
		"admins.created.account": "アカウント %s を作成しました", "admins.created.token": "トークン %s を作成しました",
		"admins.once":    "表示されるのはこの一度だけです。今コピーしてください。ゲートウェイはハッシュしか保存しません。",
		"status.revoked": "失効済み",
		"role.owner":     "オーナー", "role.admin": "管理者", "role.team_admin": "チーム管理者", "role.viewer": "閲覧者",
	})
}
