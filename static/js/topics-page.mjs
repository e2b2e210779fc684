// The topic form: a chosen .txt/.md file is read into the text box, so the teacher sees (and
// can edit) what will be used. Without JavaScript the server reads the uploaded file instead.

const MAX_CHARS = 200000;

function mount(doc) {
  const file = doc.getElementById('source_file');
  const text = doc.getElementById('source_text');
  if (!file || !text || !globalThis.FileReader) return;
  const note = doc.createElement('p');
  note.className = 'hint';
  note.setAttribute('aria-live', 'polite');
  file.after(note);
  file.addEventListener('change', () => {
    const chosen = file.files?.[0];
    if (!chosen) return;
    if (!/\.(txt|md|markdown)$/i.test(chosen.name)) {
      note.textContent = 'Choose a .txt or .md file.';
      return;
    }
    const reader = new FileReader();
    reader.addEventListener('load', () => {
      // Counted as the server counts: line ends as LF, characters (not UTF-16 units).
      const content = String(reader.result ?? '').replace(/\r\n/g, '\n');
      const chars = [...content].length;
      if (chars > MAX_CHARS) {
        note.textContent = `${chosen.name} is too long (${chars} characters; the limit is ${MAX_CHARS}).`;
        return;
      }
      text.value = content;
      // The text box now holds the file; sending both would be refused.
      file.value = '';
      note.textContent = `Loaded ${chosen.name} into the text box.`;
    });
    reader.addEventListener('error', () => {
      note.textContent = `${chosen.name} could not be read; it will be uploaded with the form instead.`;
    });
    reader.readAsText(chosen);
  });
}

if (globalThis.document) mount(globalThis.document);
