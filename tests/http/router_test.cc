// route(): every route of DESIGN.md's table, 404, 405 with Allow, parameters.
#include "server/http/router.h"

#include <gtest/gtest.h>

namespace admit::server::http {
namespace {

struct Case {
  Method method;
  std::string_view target;
  Route route;
};

TEST(Router, EveryRouteOfTheTable) {
  const Case cases[] = {
      {Method::post, "/v1/events", Route::create_event},
      {Method::put, "/v1/events/e1", Route::put_event},
      {Method::get, "/v1/events/e1", Route::get_event},
      {Method::patch, "/v1/events/e1", Route::update_event},
      {Method::get, "/v1/events?after=a&limit=5", Route::list_events},
      {Method::post, "/v1/events/e1/bookings", Route::book},
      {Method::get, "/v1/events/e1/bookings", Route::list_bookings},
      {Method::get, "/v1/bookings/BK-7M2Q9XK4", Route::get_booking},
      {Method::post, "/v1/bookings/BK-7M2Q9XK4/confirm", Route::confirm},
      {Method::delete_, "/v1/bookings/BK-7M2Q9XK4", Route::cancel},
      {Method::get, "/v1/events/e1/waitlist/u1", Route::waitlist_position},
      {Method::delete_, "/v1/events/e1/waitlist/u1", Route::leave_waitlist},
      {Method::get, "/v1/stats", Route::stats},
      {Method::get, "/metrics", Route::metrics},
      {Method::get, "/healthz", Route::healthz},
      {Method::get, "/v1/events/e1/watch", Route::watch},
      {Method::get, "/", Route::page},
      {Method::get, "/?event=a&event=b%20c&anything", Route::page},  // read by the page itself
  };
  for (const Case& c : cases) {
    Target target;
    RouteError error;
    ASSERT_TRUE(route(c.method, c.target, &target, &error)) << c.target << ": " << error.message;
    EXPECT_EQ(target.route, c.route) << c.target;
  }
}

// RFC 9112 3.2.2: the absolute form is accepted (a client talking as to a proxy).
TEST(Router, AbsoluteFormTargets) {
  Target target;
  RouteError error;
  ASSERT_TRUE(route(Method::get, "http://127.0.0.1:7480/v1/events/e1", &target, &error))
      << error.message;
  EXPECT_EQ(target.route, Route::get_event);
  EXPECT_EQ(target.id.view(), "e1");
  ASSERT_TRUE(route(Method::get, "HTTP://admit.example/v1/events?limit=5", &target, &error));
  EXPECT_EQ(target.route, Route::list_events);
  EXPECT_EQ(target.limit, 5u);
  ASSERT_TRUE(route(Method::get, "http://admit.example", &target, &error));  // an empty path is "/"
  EXPECT_EQ(target.route, Route::page);
  EXPECT_FALSE(route(Method::get, "ftp://admit.example/healthz", &target, &error));
  EXPECT_EQ(error.status, 404);
}

TEST(Router, DecodesPathParameters) {
  Target target;
  RouteError error;
  ASSERT_TRUE(
      route(Method::get, "/v1/events/tour%2Fvip%20%C3%A9/waitlist/user+42", &target, &error));
  EXPECT_EQ(target.id.view(), "tour/vip \xC3\xA9");
  EXPECT_EQ(target.user.view(), "user+42");  // '+' is a plus in a path
  ASSERT_TRUE(route(Method::get, "/v1/bookings/bk-7m2q9xk4", &target, &error));
  EXPECT_EQ(target.ref.view(), "BK-7M2Q9XK4");
  ASSERT_TRUE(route(Method::get, "/v1/events?limit=7&after=a+b%21", &target, &error));
  EXPECT_EQ(target.after.view(), "a b!");
  EXPECT_EQ(target.limit, 7u);
}

TEST(Router, UnknownPathsAre404NamingTheRoute) {
  for (const std::string_view path :
       {"//", "/v1", "/v1/", "/v2/events", "/v1/events/", "/v1/events//bookings",
        "/v1/events/e1/watch/x", "/v1/events/e1/bookings/x", "/v1/bookings", "/metrics/x",
        "/v1/events/e/waitlist/u/x/y", "no-slash", ""}) {
    Target target;
    RouteError error;
    EXPECT_FALSE(route(Method::get, path, &target, &error)) << path;
    EXPECT_EQ(error.status, 404) << path;
    EXPECT_TRUE(error.message.starts_with("route: ")) << error.message;
  }
}

TEST(Router, WrongMethodsAre405WithAllow) {
  Target target;
  RouteError error;
  EXPECT_FALSE(route(Method::delete_, "/v1/events/e1", &target, &error));
  EXPECT_EQ(error.status, 405);
  EXPECT_EQ(error.allow, "GET, PUT, PATCH");
  EXPECT_FALSE(route(Method::get, "/v1/bookings/BK-7M2Q9XK4/confirm", &target, &error));
  EXPECT_EQ(error.allow, "POST");
  EXPECT_FALSE(route(Method::post, "/", &target, &error));
  EXPECT_EQ(error.status, 405);
  EXPECT_EQ(error.allow, "GET");
  EXPECT_FALSE(route(Method::other, "/v1/events", &target, &error));
  EXPECT_EQ(error.status, 405);
  EXPECT_EQ(error.allow, "GET, POST");
}

TEST(Router, BadParametersAre400NamingThem) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"/v1/events/a%zz", "id:"},
      {"/v1/events/a%4", "id:"},
      {"/v1/events/e1/waitlist/%", "user:"},
      {"/v1/bookings/BK-1", "ref:"},
      {"/v1/events?limit=x", "limit:"},
      {"/v1/events?limit=", "limit:"},
      {"/v1/events?color=red", "color:"},
      {"/v1/events/e1?after=x", "after:"},  // no query on this route
      {"/v1/events?limit=1&limit=1&limit=1&limit=1&limit=1&limit=1&limit=1&limit=1&limit=1",
       "query:"},
  };
  for (const auto& [path, names] : cases) {
    Target target;
    RouteError error;
    EXPECT_FALSE(route(Method::get, path, &target, &error)) << path;
    EXPECT_EQ(error.status, 400) << path;
    EXPECT_TRUE(error.message.starts_with(names)) << path << ": " << error.message;
  }
  Target target;
  RouteError error;
  const std::string long_id = "/v1/events/" + std::string(129, 'a');
  EXPECT_FALSE(route(Method::get, long_id, &target, &error));
  EXPECT_TRUE(error.message.starts_with("id:"));
  EXPECT_TRUE(route(Method::get, "/v1/events/" + std::string(128, 'a'), &target, &error));
  // A limit past 1000 or past 64 bits is kept past the limit, for the edge's check.
  EXPECT_TRUE(route(Method::get, "/v1/events?limit=99999999999999999999999", &target, &error));
  EXPECT_GT(target.limit, list_limit_max);
}

}  // namespace
}  // namespace admit::server::http
