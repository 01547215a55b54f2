// shinsei console: the form preview's conditions and repeating groups. No inline script anywhere (CSP).
// Conditions are data ({field, equals | not_equals | in | present} or {all | any | not}), evaluated
// here as forms/conditions.py evaluates them; the server checks again with the compiled form.
(function () {
  "use strict";

  function same(a, b) {
    if (typeof a === "boolean" || typeof b === "boolean") return a === b;
    return a === b;
  }

  function contains(value, wanted) {
    return Array.isArray(value) ? value.some(function (v) { return same(v, wanted); }) : same(value, wanted);
  }

  function evaluate(cond, lookup) {
    if (cond.field !== undefined && cond.field !== null) {
      var v = lookup(cond.field);
      if (cond.present !== undefined && cond.present !== null) return (v !== undefined) === cond.present;
      if (cond["in"]) return v !== undefined && cond["in"].some(function (o) { return contains(v, o); });
      if (cond.not_equals !== undefined && cond.not_equals !== null) return v === undefined || !contains(v, cond.not_equals);
      return v !== undefined && contains(v, cond.equals);
    }
    if (cond.all) return cond.all.every(function (c) { return evaluate(c, lookup); });
    if (cond.any) return cond.any.some(function (c) { return evaluate(c, lookup); });
    return !evaluate(cond["not"], lookup);
  }

  // The answer a question's controls hold, as the document would carry it; undefined when unanswered.
  function answer(q) {
    if (q.hidden) return undefined;
    var kind = q.dataset.kind;
    var controls = Array.prototype.filter.call(
      q.querySelectorAll("input, select, textarea"), function (c) { return c.closest(".q") === q; });
    if (kind === "choice") {
      var picked = controls.filter(function (c) { return c.checked; })[0];
      return picked ? picked.value : undefined;
    }
    if (kind === "multi_choice") {
      var values = controls.filter(function (c) { return c.checked; }).map(function (c) { return c.value; });
      return values.length ? values : undefined;
    }
    if (kind === "group") return q.querySelectorAll(".item").length ? [] : undefined;
    var control = controls[0];
    if (!control) return undefined;
    if (kind === "attachment") return control.files && control.files.length ? {} : undefined;
    var text = control.value;
    if (text === "") return undefined;
    if (kind === "boolean") return text === "true";
    if (kind === "integer" || kind === "decimal") return Number(text);
    return text;
  }

  function scopeQuestions(scope) {
    return Array.prototype.filter.call(scope.querySelectorAll(".q"), function (q) {
      return (q.parentElement.closest(".item, form") === scope);
    });
  }

  function refresh(form) {
    var top = scopeQuestions(form);
    function byId(list, id) { return list.filter(function (q) { return q.dataset.id === id; })[0]; }
    function apply(list, lookup) {
      list.forEach(function (q) {
        var raw = q.dataset.visibleIf;
        if (!raw) return;
        var show = evaluate(JSON.parse(raw), lookup);
        q.hidden = !show;
        q.querySelectorAll("input, select, textarea").forEach(function (c) { c.disabled = !show; });
      });
    }
    function topLookup(id) { var q = byId(top, id); return q ? answer(q) : undefined; }
    for (var pass = 0; pass < 2; pass++) {
      apply(top, topLookup);
      form.querySelectorAll(".item").forEach(function (item) {
        var local = scopeQuestions(item);
        apply(local, function (id) { var q = byId(local, id); return q ? answer(q) : topLookup(id); });
      });
    }
  }

  function addItem(button) {
    var fieldset = button.closest(".repeating");
    var template = fieldset.querySelector("template[data-template]");
    var items = fieldset.querySelector(".items");
    var next = 0;
    items.querySelectorAll(".item").forEach(function (i) { next = Math.max(next, Number(i.dataset.index) + 1); });
    var html = template.innerHTML.split("__i__").join(String(next));
    items.insertAdjacentHTML("beforeend", html);
    var added = items.lastElementChild;
    var title = added.querySelector(".item-title");
    if (title) title.lastChild.textContent = " " + (next + 1);
    var first = added.querySelector("input, select, textarea");
    if (first) first.focus();
  }

  function wire(root) {
    var form = root.querySelector ? (root.id === "preview-form" ? root : root.querySelector("#preview-form")) : null;
    if (!form) return;
    refresh(form);
  }

  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("#preview-form");
    if (form) refresh(form);
  });
  document.addEventListener("input", function (event) {
    var form = event.target.closest && event.target.closest("#preview-form");
    if (form) refresh(form);
  });
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target.closest) return;
    var add = target.closest(".add-item");
    if (add) { addItem(add); refresh(add.closest("form")); return; }
    var remove = target.closest(".remove-item");
    if (remove) { var form = remove.closest("form"); remove.closest(".item").remove(); refresh(form); }
  });
  document.addEventListener("DOMContentLoaded", function () { wire(document); });
  document.addEventListener("htmx:afterSwap", function (event) { wire(event.detail.elt || document); });
}());
