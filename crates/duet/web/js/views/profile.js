// The profile: a four-step wizard on first sign-in, and one edit page later. Both are
// built from the same sections; the server's validation errors appear under the field
// they name.

import { api, avatarBlobUrl } from '../api.js';
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { announce, chips, errorText, field, fieldErrorText, formState, openDialog, restoreForm, showBanner } from '../ui.js';

/**
 * `kept`: `{step, fields}` from the screen this one replaces (a language change): the
 * wizard's step and whatever was typed or chosen, saved or not.
 */
export function profileView(app, mode, kept = null) {
  const wizard = mode === 'wizard';
  const p = app.profile;
  const vocab = app.vocab;
  const cleanups = [];

  const nickname = field('nickname', t('profile.nickname'),
    h('input', { type: 'text', name: 'nickname', maxlength: app.limits.nickname_max_chars, autocomplete: 'nickname', value: p.nickname || '' }), t('profile.nicknameHint'));
  const dob = field('dob', t('profile.dob'), h('input', { type: 'date', name: 'dob', value: p.dob || '', required: true }), t('profile.dobHint'));
  const gender = chips('gender', t('profile.gender'), vocab.genders, { multiple: false, selected: p.gender ? [p.gender] : [] });
  const genderField = field('gender', '', gender.el);
  const preferred = chips('preferred_gender', t('profile.preferred'), vocab.preferred_genders, { selected: p.preferred_gender });
  const preferredField = field('preferred_gender', '', preferred.el);
  const needs = chips('needs', t('profile.needs'), vocab.needs, { selected: p.needs });
  const needsField = field('needs', '', needs.el);
  const interests = chips('interests', t('profile.interests'), vocab.interests, { max: app.limits.interests_max, selected: p.interests });
  const count = h('p', { class: 'field-hint', 'aria-live': 'polite' });
  const updateCount = () => (count.textContent = t('profile.interestsCount', { n: interests.values().length }));
  interests.el.addEventListener('change', updateCount);
  updateCount();
  const interestsField = field('interests', '', interests.el);
  interestsField.el.insertBefore(count, interestsField.el.lastChild);

  // The photo: preview at once from the file, then the stored (re-encoded) image.
  const preview = h('img', { class: 'avatar-preview-img', alt: '', hidden: true });
  const placeholder = h('span', { class: 'avatar-placeholder', 'aria-hidden': 'true', text: (p.nickname || p.username || '?').slice(0, 1).toUpperCase() });
  const fileInput = h('input', { type: 'file', name: 'file', accept: 'image/jpeg,image/png,image/webp,image/gif', class: 'file-input' });
  const avatarStatus = h('p', { class: 'field-hint', 'aria-live': 'polite' });
  const avatarField = field('file', t('profile.avatar'), fileInput, t('profile.avatarHint'));
  const chooseLabel = avatarField.el.querySelector('label');
  chooseLabel.classList.add('btn', 'btn-secondary');
  chooseLabel.textContent = t('profile.avatarChoose');
  avatarField.el.prepend(h('div', { class: 'avatar-preview' }, placeholder, preview));
  avatarField.el.append(avatarStatus);
  let previewUrl = null;
  const showPreview = (url) => {
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = url;
    preview.hidden = !url;
    placeholder.hidden = Boolean(url);
    if (url) preview.src = url;
  };
  let gone = false;
  cleanups.push(() => {
    gone = true;
    showPreview(null);
  });
  // An avatar that loads after the page was left is let go at once.
  const showLoaded = (url) => (gone ? url && URL.revokeObjectURL(url) : url && showPreview(url));
  if (p.avatar_url) avatarBlobUrl(p.avatar_url).then(showLoaded);
  // The server's limit in megabytes (to one decimal), as people say it.
  const avatarMax = { max: Math.floor(app.limits.avatar_max_bytes / (1024 * 1024) * 10) / 10 };
  fileInput.addEventListener('change', async () => {
    const file = fileInput.files[0];
    if (!file) return;
    avatarField.setError('');
    if (file.size > app.limits.avatar_max_bytes) {
      // Said before uploading megabytes the server would refuse.
      avatarField.setError(errorText({ code: 'payload_too_large' }, avatarMax));
      fileInput.value = '';
      return;
    }
    showPreview(URL.createObjectURL(file));
    avatarStatus.textContent = t('profile.avatarUploading');
    const form = new FormData();
    form.append('file', file);
    try {
      app.profile = await api('POST', '/user/avatar', undefined, { form });
      avatarStatus.textContent = t('profile.avatarDone');
      showLoaded(await avatarBlobUrl(app.profile.avatar_url));
    } catch (error) {
      avatarStatus.textContent = '';
      showPreview(null);
      const message = error.fieldError('file');
      avatarField.setError(message ? fieldErrorText('file', message) : errorText(error, avatarMax));
    }
    fileInput.value = '';
  });

  const fields = { nickname, dob, gender: genderField, preferred_gender: preferredField, needs: needsField, interests: interestsField, file: avatarField };
  const steps = [
    { title: 'profile.stepAbout', parts: [nickname, dob, genderField], body: () => ({ nickname: nickname.control.value.trim() || undefined, dob: dob.control.value || undefined, gender: gender.values()[0] }) },
    { title: 'profile.stepWho', parts: [preferredField, needsField], body: () => ({ preferred_gender: preferred.values(), needs: needs.values() }) },
    { title: 'profile.stepInterests', parts: [interestsField], body: () => ({ interests: interests.values() }) },
    { title: 'profile.stepPhoto', parts: [avatarField], body: () => null },
  ];

  // Fields a step needs before it is sent; the server checks the rest.
  function missingChoices(body) {
    let missing = false;
    for (const [key, value] of Object.entries(body)) {
      if (key === 'nickname') continue;
      if (value === undefined || (Array.isArray(value) && value.length === 0)) {
        fields[key].setError(key === 'dob' ? t('field.required') : t('profile.pickOne'));
        missing = true;
      }
    }
    return missing;
  }

  async function save(body) {
    for (const f of Object.values(fields)) f.setError('');
    if (!body) return true;
    if (missingChoices(body)) return false;
    try {
      app.profile = await api('PUT', '/user/profile', body);
      return true;
    } catch (error) {
      if (error.code === 'validation_error') {
        for (const e of error.errors) fields[e.field]?.setError(fieldErrorText(e.field, e.message));
        const first = error.errors.map((e) => fields[e.field]).find(Boolean);
        first?.el.querySelector('input')?.focus();
      } else if (error.code !== 'rate_limited' && error.code !== 'banned') showBanner('profile', 'error', errorText(error), 8);
      return false;
    }
  }

  const partEls = steps.flatMap((step) => step.parts.map((part) => part.el));
  restoreForm(kept?.fields, ...partEls);
  let index = 0;

  const title = h('h1', { text: t(wizard ? 'profile.wizardTitle' : 'profile.editTitle') });
  const card = h('div', { class: 'card profile-card' });
  const el = h('section', { class: 'screen screen-profile' }, title, card);

  if (wizard) {
    const progress = h('ol', { class: 'steps', 'aria-hidden': 'true' }, steps.map(() => h('li')));
    const stepLabel = h('p', { class: 'step-label' });
    const stepTitle = h('h2', { tabindex: '-1' });
    const body = h('div', { class: 'stack' });
    const back = h('button', { type: 'button', class: 'btn btn-ghost', text: t('profile.back') });
    const next = h('button', { type: 'submit', class: 'btn btn-primary' });
    const form = h('form', { class: 'stack', novalidate: true }, stepLabel, stepTitle, body, h('div', { class: 'form-actions' }, back, next));
    card.append(progress, form);
    const show = (i) => {
      index = i;
      [...progress.children].forEach((li, n) => li.classList.toggle('done', n <= i));
      stepLabel.textContent = t('profile.step', { n: i + 1, total: steps.length });
      stepTitle.textContent = t(steps[i].title);
      body.replaceChildren(...steps[i].parts.map((part) => part.el));
      back.hidden = i === 0;
      next.textContent = i === steps.length - 1 ? t('profile.finish') : t('profile.next');
      stepTitle.focus();
    };
    back.addEventListener('click', () => show(Math.max(0, index - 1)));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      next.disabled = true;
      const ok = await save(steps[index].body());
      next.disabled = false;
      if (!ok) return;
      if (index < steps.length - 1) show(index + 1);
      else app.profileDone();
    });
    requestAnimationFrame(() => show(Math.min(kept?.step ?? 0, steps.length - 1)));
  } else {
    const saveButton = h('button', { type: 'submit', class: 'btn btn-primary', text: t('profile.save') });
    const form = h('form', { class: 'stack', novalidate: true },
      steps.map((step) => h('section', { class: 'profile-section' }, h('h2', { text: t(step.title) }), step.parts.map((part) => part.el))),
      h('div', { class: 'form-actions' }, h('a', { href: '#/', class: 'btn btn-ghost', text: t('profile.back') }), saveButton));
    card.append(form);
    el.append(deleteAccountSection(app));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      saveButton.disabled = true;
      const body = Object.assign({}, ...steps.slice(0, 3).map((s) => s.body()));
      const ok = await save(body);
      saveButton.disabled = false;
      if (ok) {
        announce(t('profile.saved'));
        showBanner('profile', 'info', t('profile.saved'), 4);
      }
    });
  }

  return {
    el,
    destroy: () => cleanups.forEach((fn) => fn()),
    keep: () => ({ step: index, fields: formState(...partEls) }),
  };
}

/** Account deletion: a button, then a dialog where the password confirms it. */
function deleteAccountSection(app) {
  const open = h('button', { type: 'button', class: 'btn btn-danger', id: 'delete-account', text: t('account.delete') });
  open.addEventListener('click', () => openDialog(t('account.deleteTitle'), (close) => {
    const password = field('password', t('auth.password'),
      h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true, maxlength: app.limits.password_max_chars }));
    const formError = h('p', { class: 'form-error', role: 'alert' });
    const confirm = h('button', { type: 'submit', class: 'btn btn-danger', text: t('account.deleteConfirm') });
    const form = h('form', { class: 'stack', novalidate: true },
      h('p', { text: t('account.deleteBody') }),
      password.el,
      formError,
      h('div', { class: 'form-actions' },
        h('button', { type: 'button', class: 'btn btn-ghost', text: t('common.cancel'), on: { click: () => close(null) } }),
        confirm));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      password.setError('');
      formError.textContent = '';
      if (!password.control.value) {
        password.setError(t('field.required'));
        password.control.focus();
        return;
      }
      confirm.disabled = true;
      try {
        await app.deleteAccount(password.control.value);
        close(true);
      } catch (error) {
        confirm.disabled = false;
        if (error.fieldError('password')) {
          password.setError(t('account.wrongPassword'));
          password.control.select();
          password.control.focus();
        } else if (error.code !== 'banned') formError.textContent = errorText(error);
      }
    });
    requestAnimationFrame(() => password.control.focus());
    return form;
  }));
  return h('section', { class: 'card danger-zone', 'aria-labelledby': 'danger-zone-title' },
    h('h2', { id: 'danger-zone-title', text: t('account.title') }),
    h('p', { class: 'muted', text: t('account.deleteHint') }),
    open);
}
