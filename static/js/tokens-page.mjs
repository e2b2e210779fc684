// The new API token's Copy button. Without JavaScript (or a clipboard) the token is still there
// to select and copy by hand, so the button only appears when it can work.

const button = document.querySelector('[data-copy]');
const status = document.querySelector('[data-copy-status]');
const value = button && document.getElementById(button.dataset.copy);

if (button && value && navigator.clipboard?.writeText) {
  button.hidden = false;
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(value.textContent.trim());
      if (status) status.textContent = 'Copied to the clipboard.';
    } catch {
      // Refused (no permission, not a secure context): select it for a manual copy instead.
      window.getSelection()?.selectAllChildren(value);
      if (status) status.textContent = 'Copying was refused; the token is selected, copy it by hand.';
    }
  });
}
