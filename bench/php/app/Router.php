<?php
declare(strict_types=1);

namespace Bench;

final class Router
{
    /** @var list<Route> */
    private array $routes = [];

    public function add(string $pattern, string $controller, string $action): void
    {
        $this->routes[] = new Route($pattern, $controller, $action);
    }

    public function match(Request $request): Route
    {
        foreach ($this->routes as $route) {
            if ($route->matches($request->path)) {
                return $route;
            }
        }
        throw new \RuntimeException('no route');
    }
}
