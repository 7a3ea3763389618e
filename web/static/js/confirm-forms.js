// Forms marked data-confirm="question" ask before they are sent (no inline handlers: the pages
// run under a Content-Security-Policy without 'unsafe-inline').
for (const form of document.querySelectorAll("form[data-confirm]")) {
  form.addEventListener("submit", (event) => {
    if (!confirm(form.dataset.confirm)) event.preventDefault();
  });
}
