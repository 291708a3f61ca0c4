"""Vafa backend: `create_app(config)` builds the Flask app used by every entry point."""

import logging

from flask import Flask

from backend.config import Config


def create_app(config: Config | dict | None = None) -> Flask:
    from backend import cli, database, encryption, i18n, log_redaction, startup, web
    from backend.extensions import babel, csrf, db, login_manager, migrate
    from backend.web import auth

    app = Flask(__name__, instance_relative_config=False)
    # Before anything is written (the instance's secrets, the SQLite file): owner only.
    startup.private_umask()
    settings = config if config is not None else Config()
    app.config.from_mapping(settings.as_dict() if isinstance(settings, Config) else settings)
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **database.engine_options(url, app.config.get("SQLITE_BUSY_TIMEOUT_MS",
                                                      database.SQLITE_BUSY_TIMEOUT_MS)),
        **app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}),
    }
    if database.is_sqlite(url):
        app.config["INSTANCE_DIR"].mkdir(parents=True, exist_ok=True)
    startup.secure_instance(app.config["INSTANCE_DIR"], url)
    # Uploads (member import, logo) are bounded before any of it is read.
    # (Flask's defaults hold the key with None, so setdefault would leave it unbounded.)
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = 12 * 1024 * 1024
    catalogues = i18n.compile_catalogues(app.config["INSTANCE_DIR"] / "translations")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(catalogues)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", i18n.DEFAULT_LANGUAGE)

    encryption.init_app(app)
    db.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=auth.select_locale)
    login_manager.init_app(app)
    app.before_request(auth.prepare_request)
    web.init_app(app)
    migrate.init_app(app, db, directory=str(database.MIGRATIONS_DIR))
    with app.app_context():
        database.configure_engine(db.engine, app.config.get("SQLITE_BUSY_TIMEOUT_MS",
                                                            database.SQLITE_BUSY_TIMEOUT_MS))
        if app.config.get("SCHEMA_CHECK", True):
            startup.check_schema(db.engine, database.MIGRATIONS_DIR)

    proxies = int(app.config.get("TRUSTED_PROXIES", 0))
    assert 0 <= proxies <= 5, "VAFA_TRUSTED_PROXIES counts proxies: 0 to 5"
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    web.register_blueprints(app)
    cli.init_app(app)
    log_redaction.install()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    return app
