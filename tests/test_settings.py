"""Settings come from the environment, and flags override them."""

from registry.settings import Settings


def test_every_documented_variable_is_read(monkeypatch, tmp_path):
    env = {
        "GOVSHARE_DB_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/x", "GOVSHARE_VAR": str(tmp_path),
        "GOVSHARE_HOST": "0.0.0.0", "GOVSHARE_PORT": "9090", "GOVSHARE_PUBLIC_URL": "http://gw.example.cn",
        "GOVSHARE_NODE_DOMAIN": "Node.Example.CN", "GOVSHARE_TOKEN_TTL": "60", "GOVSHARE_MAX_ROWS": "50",
        "GOVSHARE_MAX_REQUEST": "1024", "GOVSHARE_MAX_BATCH": "2048", "GOVSHARE_PROVIDER_TIMEOUT": "1.5",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    s = Settings.from_env()
    assert (s.db_url, s.var_dir, s.host, s.port, s.base_url, s.node_domain) == (
        env["GOVSHARE_DB_URL"], tmp_path, "0.0.0.0", 9090, "http://gw.example.cn", "node.example.cn")
    assert (s.token_ttl, s.max_rows, s.max_request_bytes, s.max_batch_bytes, s.provider_timeout) == (
        60, 50, 1024, 2048, 1.5)


def test_flags_override_the_environment(monkeypatch):
    monkeypatch.setenv("GOVSHARE_PORT", "9090")
    assert Settings.from_env(port=8181).port == 8181
    assert Settings.from_env(port=None).port == 9090


def test_the_default_database_is_sqlite_under_var(monkeypatch, tmp_path):
    monkeypatch.delenv("GOVSHARE_DB_URL", raising=False)
    monkeypatch.setenv("GOVSHARE_VAR", str(tmp_path))
    assert Settings.from_env().db_url == f"sqlite:///{tmp_path / 'govshare.db'}"


def test_the_database_timeouts_are_read(monkeypatch):
    monkeypatch.setenv("GOVSHARE_DB_CONNECT_TIMEOUT", "3")
    monkeypatch.setenv("GOVSHARE_DB_STATEMENT_TIMEOUT", "120")
    monkeypatch.setenv("GOVSHARE_DB_LOCK_TIMEOUT", "0")
    s = Settings.from_env()
    assert (s.db_connect_timeout, s.db_statement_timeout, s.db_lock_timeout) == (3, 120, 0)
