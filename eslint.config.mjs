// ESLint (flat config) for the page's ES modules in static/js: the recommended rules and a
// few that keep the code as it is written today; `make jscheck` runs it.
import js from "@eslint/js";
import globals from "globals";

export default [
  {
    files: ["static/js/**/*.js"],
    ...js.configs.recommended,
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: globals.browser,
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      ...js.configs.recommended.rules,
      // `const { input_size: _inputSize, ...model } = config.model` leaves a key out of a copy.
      "no-unused-vars": ["error", { ignoreRestSiblings: true }],
      eqeqeq: "error",
      "no-var": "error",
      "prefer-const": "error",
      "no-shadow": "error",
      "no-implicit-globals": "error",
    },
  },
  {
    // /docs's classic script (not a module): Swagger UI's bundle, loaded before it, defines
    // window.SwaggerUIBundle.
    files: ["static/js/docs.js"],
    languageOptions: { sourceType: "script" },
  },
];
