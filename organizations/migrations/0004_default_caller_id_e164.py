# The default caller id is validated as an E.164 phone number (voiceagents.phone).

from django.db import migrations, models

import voiceagents.phone


class Migration(migrations.Migration):
    dependencies = [
        ("organizations", "0003_phone_number_claim"),
    ]

    operations = [
        migrations.AlterField(
            model_name="organization",
            name="default_caller_id",
            field=models.CharField(
                blank=True,
                help_text="E.164 number outbound calls use by default.",
                max_length=20,
                validators=[voiceagents.phone.validate_e164],
            ),
        ),
    ]
