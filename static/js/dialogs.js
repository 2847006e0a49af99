// Native <dialog>s: Escape closes them (the browser does it), focus returns to the opener
// (or to its twin when a refresh redrew the table while the dialog was open).

function twinOf(opener) {
  const card = opener.closest('.port-card');
  if (!card || !opener.dataset.action) return null;
  return {
    gateway: card.dataset.gateway,
    port: card.dataset.port,
    action: opener.dataset.action,
  };
}

function findTwin(twin) {
  if (!twin) return null;
  const card = `.port-card[data-gateway="${CSS.escape(twin.gateway)}"][data-port="${CSS.escape(twin.port)}"]`;
  return document.querySelector(`${card} [data-action="${CSS.escape(twin.action)}"]`);
}

export function setUpDialog(dialog, onClose = () => {}) {
  let opener = null;
  let twin = null;
  for (const button of dialog.querySelectorAll('.dialog-close')) {
    button.addEventListener('click', () => dialog.close());
  }
  // A tap on the backdrop (outside the dialog box) closes it too.
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog) dialog.close();
  });
  dialog.addEventListener('close', () => {
    onClose();
    const target = opener && opener.isConnected ? opener : findTwin(twin);
    if (target) target.focus();
    opener = null;
    twin = null;
  });
  return {
    open(from) {
      opener = from || document.activeElement;
      twin = opener ? twinOf(opener) : null;
      if (!dialog.open) dialog.showModal();
    },
  };
}
