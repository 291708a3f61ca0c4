"""The staff panel's blueprint, in a module of its own so the views and the nested
panels can import it without importing each other."""

from flask import Blueprint

bp = Blueprint("admin", __name__)
