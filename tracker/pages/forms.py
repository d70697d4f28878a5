"""Input of the portfolio pages: what-if changes and flag actions, checked field by field."""

from __future__ import annotations

from django import forms

from tracker.selectors.pages import WhatIf


class WhatIfForm(forms.Form):
    """Blank fields keep the tune's own value."""

    monthly_queries = forms.FloatField(required=False, min_value=0, max_value=1e13)
    alternative_input_price = forms.FloatField(required=False, min_value=0, max_value=1e6)
    alternative_output_price = forms.FloatField(required=False, min_value=0, max_value=1e6)
    tune_input_price = forms.FloatField(required=False, min_value=0, max_value=1e6)
    tune_output_price = forms.FloatField(required=False, min_value=0, max_value=1e6)
    extra_prompt_tokens = forms.FloatField(required=False, min_value=0, max_value=1e7)
    retrain_cost = forms.FloatField(required=False, min_value=0, max_value=1e12)
    change_rate_per_quarter = forms.FloatField(required=False, min_value=0, max_value=100)

    def what_if(self) -> WhatIf:
        return WhatIf(**self.cleaned_data)


class FlagActionForm(forms.Form):
    action = forms.ChoiceField(choices=[("acknowledge", "Acknowledge"), ("snooze", "Snooze")])
    until = forms.DateField(required=False, help_text="Snooze until this day.")
    note = forms.CharField(required=False, max_length=2000, strip=True)

    def clean(self):
        data = super().clean()
        if data.get("action") == "snooze" and not data.get("until"):
            self.add_error("until", "Pick the day the flag comes back.")
        return data
