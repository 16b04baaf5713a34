from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """?page=N&page_size=M (max 200); the response carries count, next and previous."""

    page_size_query_param = "page_size"
    max_page_size = 200
