"""URL map of the front: pages, the JSON API and its schema, the embedded store, health."""

from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from front import api, media, views

router = DefaultRouter(trailing_slash=True)
router.register("games", api.GameViewSet, basename="game")
router.register("uploads", api.UploadViewSet, basename="upload")

urlpatterns = [
    path("", views.home, name="home"),
    path("signup/", views.signup, name="signup"),
    path("login/", views.ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("games/", views.game_list, name="games"),
    path("games/<uuid:game_id>/", views.game_page, name="game"),
    path("games/<uuid:game_id>/delete/", views.delete_game, name="game-delete"),
    # Share tokens are URL-safe base64 (`front.models.new_token`): anything else is no
    # share, answered 404 here (a NUL byte reached PostgreSQL, which refused it: a 500).
    path("s/<slug:token>/", views.share_page, name="share"),
    path("api/", include(router.urls)),
    path("api/shares/<slug:token>/", api.ShareView.as_view(), name="share-api"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("media/<path:key>", media.media, name="media"),
    path("uploads/local/<str:upload_id>/<int:number>", media.upload_part, name="local-part"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
]
