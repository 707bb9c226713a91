// The message composer: a text box that grows with its text, Enter to send (Shift+Enter
// for a new line), the length limit the server gives in /meta/limits, typing signals,
// the draft kept per room, and the line under the messages for what went wrong.

import { h } from '../dom.js';
import { t } from '../i18n.js';

/**
 * `send(content)` sends a message (already trimmed and within the limit), `sent()` runs
 * once the box is empty again; `typed()` and `stopTyping()` tell the partner. Returns `{form, error, showError(text), focus()}`:
 * the room places `error` above `form`.
 */
const EMOJI = ['😊', '😂', '🥰', '😍', '😉', '😅', '🤔', '😮', '😢', '😡', '👍', '👋', '🙏', '👏', '🎉', '❤️', '🔥', '✨', '☕', '🍜', '🎵', '📚', '✈️', '🌙'];

export function composer(app, roomId, { send, sent, typed, stopTyping }) {
  const max = app.limits.message_max_chars;
  const input = h('textarea', { rows: 1, name: 'message', placeholder: t('room.placeholder'), 'aria-label': t('room.placeholder'), maxlength: max * 2, enterkeyhint: 'send' });
  // The draft outlives the screen (a language change rebuilds it, a reload too) until
  // it is sent or the room ends.
  const draftKey = `duet.draft.${roomId}`;
  input.value = sessionStorage.getItem(draftKey) || '';
  const saveDraft = () => {
    if (input.value) sessionStorage.setItem(draftKey, input.value);
    else sessionStorage.removeItem(draftKey);
  };
  const sendButton = h('button', { type: 'submit', class: 'btn btn-primary btn-send', 'aria-label': t('room.send') }, h('span', { text: t('room.send') }));
  const error = h('p', { class: 'composer-error', role: 'alert' });
  // A small emoji picker: a tap inserts one where the caret is.
  const emojiButton = h('button', { type: 'button', class: 'btn btn-ghost emoji-toggle', 'aria-label': t('room.emoji'), 'aria-expanded': 'false', title: t('room.emoji'), text: '😊' });
  const picker = h('div', { class: 'emoji-picker', role: 'group', 'aria-label': t('room.emoji'), hidden: true },
    EMOJI.map((e) => h('button', { type: 'button', class: 'emoji', text: e, 'aria-label': e })));
  const showPicker = (open) => {
    picker.hidden = !open;
    emojiButton.setAttribute('aria-expanded', String(open));
  };
  emojiButton.addEventListener('click', () => showPicker(picker.hidden));
  picker.addEventListener('click', (event) => {
    const emoji = event.target.closest('.emoji')?.textContent;
    if (!emoji) return;
    const start = input.selectionStart ?? input.value.length;
    const end = input.selectionEnd ?? start;
    input.value = input.value.slice(0, start) + emoji + input.value.slice(end);
    input.setSelectionRange(start + emoji.length, start + emoji.length);
    input.dispatchEvent(new Event('input'));
    input.focus();
  });
  picker.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      showPicker(false);
      emojiButton.focus();
    }
  });
  const form = h('form', { class: 'composer' }, picker, emojiButton, input, sendButton);

  const autosize = () => {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, 140)}px`;
  };
  const submit = () => {
    const content = input.value.trim();
    error.textContent = '';
    if (!content) return;
    if ([...content].length > max) {
      error.textContent = t('room.tooLong', { max });
      return;
    }
    send(content);
    showPicker(false);
    input.value = '';
    saveDraft();
    autosize();
    sent();
    input.focus();
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit();
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  input.addEventListener('input', () => {
    saveDraft();
    autosize();
    if (input.value.trim()) typed();
    else stopTyping();
  });

  return {
    form,
    error,
    showError(text) {
      error.textContent = text;
    },
    focus: () => {
      input.focus();
      input.setSelectionRange(input.value.length, input.value.length);
      if (input.value) autosize();
    },
  };
}
