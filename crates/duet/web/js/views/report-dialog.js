// The report dialog of a room: a reason (the server's list), an optional note, and the
// server's answer under the field it concerns.

import { api } from '../api.js';
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { errorText, fieldErrorText, openDialog, showBanner } from '../ui.js';

/** Resolves true once a report was sent, null when the dialog was dismissed. */
export async function openReportDialog(app, roomId) {
  const reasons = app.limits.report_reasons.map((id, i) => {
    const input = h('input', { type: 'radio', name: 'reason', value: id, checked: i === 0 });
    return h('label', { class: 'radio-row' }, input, h('span', { text: t(`report.${id}`) }));
  });
  const details = h('textarea', { name: 'details', rows: 3, maxlength: app.limits.report_details_max_chars, id: 'report-details' });
  const error = h('p', { class: 'form-error', role: 'alert' });
  return openDialog(t('report.title'), (close) => {
    const form = h('form', { class: 'stack', method: 'dialog' },
      h('fieldset', { class: 'radio-group' }, h('legend', { text: t('report.reason') }), reasons),
      h('div', { class: 'field' }, h('label', { for: 'report-details', text: t('report.details') }), details),
      error,
      h('div', { class: 'form-actions' },
        h('button', { type: 'button', class: 'btn btn-ghost', text: t('common.cancel'), on: { click: () => close(null) } }),
        h('button', { type: 'submit', class: 'btn btn-danger', text: t('report.submit') })));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const reason = form.querySelector('input[name=reason]:checked').value;
      const body = { reason };
      if (details.value.trim()) body.details = details.value.trim();
      try {
        await api('POST', `/chat/report/${roomId}`, body);
        close(true);
        showBanner('report', 'info', t('report.done'), 6);
      } catch (e) {
        const message = e.fieldError('details');
        error.textContent = message ? fieldErrorText('details', message) : errorText(e);
      }
    });
    return form;
  });
}
