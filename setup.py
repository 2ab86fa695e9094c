"""Maps the top-level static/ and templates/ into the wheel as app/static and app/templates
(and carries app/vendor's Plotly bundle).

pyproject.toml holds everything else; a package_dir mapping for data folders that live
beside the package (the project's layout) is the one thing it cannot say declaratively.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["app", "app.*"]), "app.static", "app.templates"],
    package_dir={"app.static": "static", "app.templates": "templates"},
    package_data={"app": ["vendor/*"], "app.static": ["**/*"], "app.templates": ["**/*"]},
)
