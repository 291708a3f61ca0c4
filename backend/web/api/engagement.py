"""News and events, surveys and the FAQ: members read and answer them (`/me/…`), the
FAQ is public, and staff with the "offers" permission list every post."""

from sqlalchemy import select

from backend.errors import NotFound
from backend.extensions import db
from backend.models import NewsPost
from backend.services import content, surveys
from backend.web.api.operations import operation, paginate
from backend.web.api.schemas import (
    FaqOut,
    NewsAdminOut,
    NewsOut,
    PageQuery,
    SurveyAnswersIn,
    SurveyOut,
    SurveyResponseOut,
)
from backend.web.common import clock


@operation("GET", "/me/news", summary="News and events for me", tag="News", auth="member",
           query=PageQuery, response=NewsOut, paginated=True, errors=(400, 401, 403))
def my_news(principal, args):
    """Posts inside their publish window, for every member or for the member's tier,
    newest first."""
    return paginate(content.visible_posts_statement(principal.member, clock()), args)


@operation("GET", "/me/news/<int:post_id>", summary="One news post or event", tag="News",
           auth="member", response=NewsOut, errors=(401, 403, 404))
def my_news_post(principal, post_id: int):
    post = content.visible_post(db.session, principal.member, post_id, clock())
    if post is None:
        raise NotFound("no such post")
    return post


@operation("GET", "/news", summary="Every news post and event", tag="News",
           permission="offers", query=PageQuery, response=NewsAdminOut, paginated=True,
           errors=(400, 401, 403))
def list_news(principal, args):
    """Including drafts, scheduled and past posts, newest first."""
    return paginate(select(NewsPost).order_by(NewsPost.publish_from.desc(), NewsPost.id.desc()),
                    args)


@operation("GET", "/faq", summary="Frequently asked questions", tag="News", auth="none",
           query=PageQuery, response=FaqOut, paginated=True, errors=(400,))
def faq(principal, args):
    """Public: no token needed."""
    return paginate(content.faq_statement(), args)


@operation("GET", "/me/surveys", summary="Surveys waiting for my answers", tag="Surveys",
           auth="member", query=PageQuery, response=SurveyOut, paginated=True,
           errors=(400, 401, 403))
def my_surveys(principal, args):
    return paginate(surveys.open_surveys_statement(principal.member), args)


@operation("GET", "/me/surveys/<int:survey_id>", summary="One survey with its questions",
           tag="Surveys", auth="member", response=SurveyOut, errors=(401, 403, 404))
def my_survey(principal, survey_id: int):
    survey = surveys.member_survey(db.session, principal.member, survey_id)
    if survey is None:
        raise NotFound("no such open survey")
    return survey


@operation("POST", "/me/surveys/<int:survey_id>/responses", summary="Answer a survey",
           tag="Surveys", auth="member", body=SurveyAnswersIn, response=SurveyResponseOut,
           status=201, errors=(400, 401, 403, 404))
def answer_survey(principal, survey_id: int, data):
    """Once per survey. Ratings are "1"–"5" (any digits); a choice is one of the
    question's choices; free text is optional. Errors name the question as `q<id>`."""
    if surveys.member_survey(db.session, principal.member, survey_id) is None:
        raise NotFound("no such open survey")
    return surveys.submit_member_response(db.session, survey_id=survey_id,
                                          member=principal.member, answers=data["answers"],
                                          now=clock())
