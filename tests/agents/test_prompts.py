"""Prompt variables: logic-less substitution, missing names reported, values never expanded."""

from agents.prompts import RenderedPrompt, prompt_render, prompt_variables


def test_variables_are_filled_from_the_call():
    rendered = prompt_render(
        template="Hello {{customer_name}}, this is {{ company }}.",
        variables={"customer_name": "Ada", "company": "Acme"},
    )

    assert rendered == RenderedPrompt(text="Hello Ada, this is Acme.", missing=())


def test_a_missing_variable_renders_empty_and_is_reported_once_in_order_of_use():
    rendered = prompt_render(
        template="{{greeting}} {{customer_name}}, your order {{order}} ({{customer_name}}).",
        variables={"order": 42, "greeting": None},
    )

    assert rendered.text == " , your order 42 ()."
    assert rendered.missing == ("greeting", "customer_name")


def test_a_value_holding_template_syntax_is_printed_literally():
    rendered = prompt_render(
        template="Caller: {{customer_name}}. Secret: {{secret}}.",
        variables={
            "customer_name": "{{secret}} {% if x %}{% endif %} {{ '{{' }}",
            "secret": "s3cr3t",
        },
    )

    assert rendered.text == ("Caller: {{secret}} {% if x %}{% endif %} {{ '{{' }}. Secret: s3cr3t.")
    assert rendered.missing == ()


def test_template_syntax_other_than_flat_names_is_left_as_written():
    template = "{% for x in y %}{{ x.attr }}{{ 1+1 }}{% endfor %} {{name}}"

    rendered = prompt_render(template=template, variables={"name": "Bo", "x": "no"})

    assert rendered.text == "{% for x in y %}{{ x.attr }}{{ 1+1 }}{% endfor %} Bo"
    assert prompt_variables(template) == ["name"]


def test_prompt_variables_lists_names_in_order_of_first_use_without_repeats():
    assert prompt_variables("{{b}} {{ a }} {{b}} {{c_1}}") == ["b", "a", "c_1"]
    assert prompt_variables("") == []


def test_a_template_without_variables_is_returned_unchanged():
    assert prompt_render(template="Plain {text}.", variables=None) == RenderedPrompt(
        "Plain {text}."
    )
    assert prompt_render(template="", variables={"a": 1}).text == ""
