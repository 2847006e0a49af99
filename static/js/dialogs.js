// Native <dialog>s: Escape closes them (the browser does it), focus returns to the opener.

export function setUpDialog(dialog, onClose = () => {}) {
  let opener = null;
  for (const button of dialog.querySelectorAll('.dialog-close')) {
    button.addEventListener('click', () => dialog.close());
  }
  // A tap on the backdrop (outside the dialog box) closes it too.
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog) dialog.close();
  });
  dialog.addEventListener('close', () => {
    onClose();
    if (opener && opener.isConnected) opener.focus();
    opener = null;
  });
  return {
    open(from) {
      opener = from || document.activeElement;
      if (!dialog.open) dialog.showModal();
    },
  };
}
